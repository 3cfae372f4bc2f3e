package auditlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
)

// ZeroHash is the prev of the very first line of a chain.
var ZeroHash = strings.Repeat("0", 64)

// ChainHeadFile is the name, inside a log directory, of the file that
// records where the chain continues after Prune removed older days.
const ChainHeadFile = "chain-head.json"

const dayFileSuffix = ".jsonl"

// ErrInvalidDate is wrapped by every error about an invalid day.
var ErrInvalidDate = errors.New("invalid date")

// ParseDate parses a UTC day in the form YYYY-MM-DD. It accepts nothing
// else, so its result can safely name a file.
func ParseDate(s string) (time.Time, error) {
	if !looksLikeDate(s) {
		return time.Time{}, fmt.Errorf("%w %q: expected a UTC day as YYYY-MM-DD, such as 2025-01-31", ErrInvalidDate, s)
	}
	day, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %q: no such calendar day, expected YYYY-MM-DD", ErrInvalidDate, s)
	}
	return day, nil
}

// looksLikeDate reports whether s is four digits, a dash, two digits, a
// dash and two digits.
func looksLikeDate(s string) bool {
	if len(s) != len(time.DateOnly) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// dayOf returns the UTC day of t as YYYY-MM-DD.
func dayOf(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

// nextDay returns the day after day, both as YYYY-MM-DD.
func nextDay(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic("auditlog: nextDay called with unvalidated day " + day)
	}
	return dayOf(t.AddDate(0, 0, 1))
}

func dayFileName(day string) string {
	return day + dayFileSuffix
}

// dayOfFileName returns the day of a daily log file name, or false when
// name is not exactly YYYY-MM-DD.jsonl.
func dayOfFileName(name string) (string, bool) {
	day, found := strings.CutSuffix(name, dayFileSuffix)
	if !found {
		return "", false
	}
	if _, err := ParseDate(day); err != nil {
		return "", false
	}
	return day, true
}

// listDayFiles returns the names of the daily log files in dir, oldest
// first. A missing dir has no files. Other names are ignored.
func listDayFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list audit log directory: %w", err)
	}

	var names []string
	for _, entry := range entries {
		if !entry.Type().IsRegular() {
			continue
		}
		if _, ok := dayOfFileName(entry.Name()); ok {
			names = append(names, entry.Name())
		}
	}
	// YYYY-MM-DD names sort in time order.
	sort.Strings(names)
	return names, nil
}

// hashLine returns the lowercase hex SHA-256 of one line without its
// newline.
func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// lastLine returns the last line of path without its newline, and whether
// the file ends with a newline. An empty file returns a nil line.
func lastLine(path string) (line []byte, terminated bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	size := info.Size()
	if size == 0 {
		return nil, false, nil
	}

	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return nil, false, fmt.Errorf("read end of %s: %w", path, err)
	}
	terminated = last[0] == '\n'
	end := size
	if terminated {
		end--
	}

	// Read backwards in chunks until the newline before the last line.
	// tail contains the bytes from start to end, none of them a newline.
	const chunkSize = 4096
	var tail []byte
	for start := end; start > 0; {
		n := min(chunkSize, start)
		start -= n
		chunk := make([]byte, n)
		if _, err := f.ReadAt(chunk, start); err != nil {
			return nil, false, fmt.Errorf("read end of %s: %w", path, err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return append(chunk[i+1:], tail...), terminated, nil
		}
		tail = append(chunk, tail...)
	}
	return tail, terminated, nil
}

// eachLine calls fn for every line of path, numbered from 1, without its
// newline. terminated is false only for a last line that has no newline.
func eachLine(path string, fn func(number int, line []byte, terminated bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	reader := bufio.NewReaderSize(f, 64*1024)
	for number := 1; ; number++ {
		line, err := reader.ReadBytes('\n')
		if len(line) > 0 {
			terminated := line[len(line)-1] == '\n'
			if terminated {
				line = line[:len(line)-1]
			}
			if fnErr := fn(number, line, terminated); fnErr != nil {
				return fnErr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
}

// ChainHead is the content of chain-head.json: the last day file that
// Prune removed and the hash of its last line, which the first remaining
// line carries as prev.
type ChainHead struct {
	File     string    `json:"file"`
	Hash     string    `json:"hash"`
	PrunedAt time.Time `json:"pruned_at"`
}

// readChainHead returns the recorded chain head of dir, or nil when no
// day was ever pruned.
func readChainHead(dir string) (*ChainHead, error) {
	path := filepath.Join(dir, ChainHeadFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chain head: %w", err)
	}

	var head ChainHead
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("invalid chain head %s: %w; restore it from a backup or from the prune archive", path, err)
	}
	if _, ok := dayOfFileName(head.File); !ok {
		return nil, fmt.Errorf("invalid chain head %s: file %q is not a YYYY-MM-DD.jsonl name; restore it from a backup or from the prune archive", path, head.File)
	}
	if !isHash(head.Hash) {
		return nil, fmt.Errorf("invalid chain head %s: hash %q is not 64 lowercase hex digits; restore it from a backup or from the prune archive", path, head.Hash)
	}
	return &head, nil
}

func writeChainHead(dir string, head ChainHead) error {
	data, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return fmt.Errorf("encode chain head: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(dir, ChainHeadFile), append(data, '\n'))
}

// isHash reports whether s is a lowercase hex SHA-256.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// chainedFiles returns the day files of dir that continue the chain: all
// of them, or with a recorded chain head only those after head.File. Files
// at or before head.File are left behind by a Prune that stopped before
// deleting them, and are returned as leftovers.
func chainedFiles(dir string, head *ChainHead) (chained, leftovers []string, err error) {
	names, err := listDayFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range names {
		if head != nil && name <= head.File {
			leftovers = append(leftovers, name)
			continue
		}
		chained = append(chained, name)
	}
	return chained, leftovers, nil
}

// chainStart returns the prev of the first line after files: the hash of
// the last line of the newest non-empty file, else the recorded chain
// head, else ZeroHash.
func chainStart(dir string, files []string, head *ChainHead) (string, error) {
	for i := len(files) - 1; i >= 0; i-- {
		line, terminated, err := lastLine(filepath.Join(dir, files[i]))
		if err != nil {
			return "", fmt.Errorf("read last line of audit log: %w", err)
		}
		if line != nil || terminated {
			return hashLine(line), nil
		}
	}
	if head != nil {
		return head.Hash, nil
	}
	return ZeroHash, nil
}
