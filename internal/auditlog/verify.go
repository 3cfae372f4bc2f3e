package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
)

// Report is the result of Verify.
type Report struct {
	// OK is true when every line chains to the one before it.
	OK bool `json:"ok"`
	// Files and Lines count the day files and the lines checked, up to
	// the break if there is one.
	Files int `json:"files"`
	Lines int `json:"lines"`
	// Start is the prev the first line must carry: ZeroHash, or the hash
	// recorded by Prune in chain-head.json.
	Start string `json:"start"`
	// Head is the hash of the last line, the value to export elsewhere
	// to detect a later rewrite of the whole chain. It is set only when
	// OK is true, and equals Start when there are no lines.
	Head string `json:"head,omitempty"`
	// Leftovers are day files at or before the recorded chain head, which
	// a Prune that stopped early did not delete. They are not checked.
	Leftovers []string `json:"leftovers,omitempty"`
	// Break is the first line whose chain breaks, nil when OK is true.
	Break *Break `json:"break,omitempty"`
}

// Break locates the first line whose chain breaks.
type Break struct {
	// File is the day file name, such as 2025-01-31.jsonl.
	File string `json:"file"`
	// Line is the 1-based line number in File.
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

func (b *Break) String() string {
	return fmt.Sprintf("%s line %d: %s", b.File, b.Line, b.Reason)
}

// linePosition names a checked line for the reason of a break. The zero
// value means no line.
type linePosition struct {
	file string
	line int
}

// errChainBroken stops reading a file at the first break.
var errChainBroken = errors.New("chain broken")

// Verify checks the hash chain of the audit log in dir, day file by day
// file in order. It reports the first line that is not a JSON object or
// whose "prev" is not the hash of the line before it. Such a line follows
// an edited line or a gap left by deleted lines or files. An edit of the
// very last line cannot be seen, because no line follows it, so compare
// Head with an exported copy for that.
//
// A broken chain is a Report with OK false, not an error. The error is for
// files that cannot be read and for an invalid chain-head.json.
func Verify(dir string) (Report, error) {
	head, err := readChainHead(dir)
	if err != nil {
		return Report{}, err
	}
	files, leftovers, err := chainedFiles(dir, head)
	if err != nil {
		return Report{}, err
	}

	report := Report{Start: ZeroHash, Leftovers: leftovers}
	if head != nil {
		report.Start = head.Hash
	}

	expected := report.Start
	var previous linePosition
	for _, name := range files {
		report.Files++
		err := eachLine(filepath.Join(dir, name), func(number int, line []byte, terminated bool) error {
			if reason := checkLine(line, terminated, expected, previous, head); reason != "" {
				report.Break = &Break{File: name, Line: number, Reason: reason}
				return errChainBroken
			}
			report.Lines++
			expected = hashLine(line)
			previous = linePosition{file: name, line: number}
			return nil
		})
		if errors.Is(err, errChainBroken) {
			return report, nil
		}
		if err != nil {
			return Report{}, fmt.Errorf("verify audit log: %w", err)
		}
	}

	report.OK = true
	report.Head = expected
	return report, nil
}

// checkLine returns why line breaks the chain, or "" when its prev is
// expected. previous is the line before it, the zero value for the first.
func checkLine(line []byte, terminated bool, expected string, previous linePosition, head *ChainHead) string {
	if len(line) == 0 {
		return "empty line"
	}

	var fields struct {
		Prev *string `json:"prev"`
	}
	if line[0] != '{' {
		return "not a JSON object" + cutShortHint(terminated)
	}
	if err := json.Unmarshal(line, &fields); err != nil {
		return "invalid JSON: " + err.Error() + cutShortHint(terminated)
	}
	if fields.Prev == nil {
		return `missing "prev"`
	}
	if *fields.Prev == expected {
		return ""
	}

	switch {
	case previous.line > 0:
		return fmt.Sprintf(`"prev" is not the SHA-256 of %s line %d: that line was edited, or lines after it were deleted`,
			previous.file, previous.line)
	case head != nil:
		return fmt.Sprintf(`"prev" is not the chain head recorded in %s after pruning %s: lines or files after it were deleted, or this line was edited`,
			ChainHeadFile, head.File)
	default:
		return `"prev" of the first line is not 64 zeros and no chain head is recorded: earlier lines or files were deleted, or this line was edited`
	}
}

func cutShortHint(terminated bool) string {
	if terminated {
		return ""
	}
	return " (the line has no final newline, so a write was probably cut short by a crash)"
}
