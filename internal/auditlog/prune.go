package auditlog

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/google/renameio/v2"
)

// PruneResult is the result of Prune.
type PruneResult struct {
	// Files are the day files removed, or to be removed on a dry run,
	// oldest first.
	Files []string `json:"files"`
	// Bytes is the total size of Files.
	Bytes int64 `json:"bytes"`
	// ArchiveDir is the directory Files were copied to, empty without an
	// archive.
	ArchiveDir string `json:"archive_dir,omitempty"`
	// Head is the chain head recorded in chain-head.json, or to be
	// recorded on a dry run. It is nil when the recorded head does not
	// change.
	Head   *ChainHead `json:"head,omitempty"`
	DryRun bool       `json:"dry_run"`
}

// Prune removes the day files of the audit log in dir whose UTC day is
// before the UTC day of before, so that every line they contain is older
// than before. It never removes the file of the current UTC day or a
// later one, which a running daemon may be appending to.
//
// With archiveDir set, each file is first copied there and fsynced. A
// file that already exists in archiveDir with the same content is kept,
// and one with other content stops Prune before anything is removed.
// Pruning into the same archive directory each time, from the first day
// on, keeps the archived files one chain that Verify can check.
//
// Before removing files, Prune records the name of the newest one and the
// hash of its last line in chain-head.json, so that Verify and Open
// continue the chain from there. A Prune interrupted after that record
// leaves files that Verify lists as leftovers and the next Prune removes.
// With dryRun set, Prune only returns what it would do.
//
// NOTE: a Log keeps its file open after Prune deletes it, and writes there
// any record whose "ts" is not after that file's day. Such a record is lost
// and breaks the chain at the next line. With a cutoff of yesterday or
// earlier, only a "ts" more than a day old does that. With a cutoff of
// today, a request that started before midnight UTC is enough.
func Prune(dir string, before time.Time, archiveDir string, dryRun bool) (PruneResult, error) {
	if before.IsZero() {
		return PruneResult{}, errors.New("prune audit log: missing cutoff time")
	}
	result := PruneResult{ArchiveDir: archiveDir, DryRun: dryRun}

	head, err := readChainHead(dir)
	if err != nil {
		return result, err
	}
	names, err := listDayFiles(dir)
	if err != nil {
		return result, err
	}

	// Both are day file names, which compare in time order.
	cutoff := dayFileName(min(dayOf(before), dayOf(time.Now())))
	var newlyPruned []string
	for _, name := range names {
		if name >= cutoff {
			break
		}
		result.Files = append(result.Files, name)
		if head == nil || name > head.File {
			newlyPruned = append(newlyPruned, name)
		}

		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return result, fmt.Errorf("prune audit log: %w", err)
		}
		result.Bytes += info.Size()
	}
	if len(result.Files) == 0 {
		return result, nil
	}

	if len(newlyPruned) > 0 {
		hash, err := chainStart(dir, newlyPruned, head)
		if err != nil {
			return result, err
		}
		result.Head = &ChainHead{
			File:     newlyPruned[len(newlyPruned)-1],
			Hash:     hash,
			PrunedAt: time.Now().UTC().Truncate(time.Millisecond),
		}
	}
	if dryRun {
		return result, nil
	}

	if archiveDir != "" {
		if err := archiveFiles(dir, result.Files, archiveDir); err != nil {
			return result, err
		}
	}
	if result.Head != nil {
		if err := writeChainHead(dir, *result.Head); err != nil {
			return result, fmt.Errorf("record pruned chain head: %w", err)
		}
	}
	for _, name := range result.Files {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return result, fmt.Errorf("prune audit log: %w", err)
		}
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return result, fmt.Errorf("prune audit log: %w", err)
	}
	return result, nil
}

// archiveFiles copies the named day files of dir into archiveDir and
// fsyncs them and archiveDir.
func archiveFiles(dir string, names []string, archiveDir string) error {
	if err := checkDistinctDirs(dir, archiveDir); err != nil {
		return err
	}
	if err := fsutil.MkdirAll(archiveDir); err != nil {
		return fmt.Errorf("create audit archive directory: %w", err)
	}
	for _, name := range names {
		if err := archiveFile(filepath.Join(dir, name), filepath.Join(archiveDir, name)); err != nil {
			return err
		}
	}
	return fsutil.SyncDir(archiveDir)
}

// checkDistinctDirs returns an error when archiveDir is the log directory,
// where archiving would be followed by deleting the archived files.
func checkDistinctDirs(dir, archiveDir string) error {
	dirInfo, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("prune audit log: %w", err)
	}
	archiveInfo, err := os.Stat(archiveDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check audit archive directory: %w", err)
	}
	if os.SameFile(dirInfo, archiveInfo) {
		return fmt.Errorf("invalid audit archive directory %s: it is the log directory itself; choose another directory", archiveDir)
	}
	return nil
}

// archiveFile copies src to dst through a temporary file that is fsynced
// and renamed into place. An existing dst with the same content is kept.
func archiveFile(src, dst string) error {
	existing, err := fileHash(dst)
	if err == nil {
		current, err := fileHash(src)
		if err != nil {
			return fmt.Errorf("archive audit log: %w", err)
		}
		if existing != current {
			return fmt.Errorf("archive audit log: %s already exists with other content; move it away or choose another archive directory", dst)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("archive audit log: %w", err)
	}

	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("archive audit log: %w", err)
	}
	defer in.Close()

	pending, err := renameio.NewPendingFile(dst,
		renameio.WithTempDir(filepath.Dir(dst)),
		renameio.WithStaticPermissions(fsutil.FileMode))
	if err != nil {
		return fmt.Errorf("archive audit log to %s: %w", dst, err)
	}
	defer pending.Cleanup()

	if _, err := io.Copy(pending, in); err != nil {
		return fmt.Errorf("archive audit log to %s: %w", dst, err)
	}
	if err := pending.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("archive audit log to %s: %w", dst, err)
	}
	return nil
}

// fileHash returns the SHA-256 of the content of path.
func fileHash(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()

	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return sum, fmt.Errorf("read %s: %w", path, err)
	}
	copy(sum[:], hash.Sum(nil))
	return sum, nil
}
