// Package fsutil writes files durably: every write goes to a temporary file
// in the same directory, is fsynced, renamed over the target, and the
// directory is fsynced, so a reader or a crash finds the old or the new
// content and never a torn file.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
)

// FileMode and DirMode are the modes of everything capsol creates.
const (
	FileMode os.FileMode = 0o600
	DirMode  os.FileMode = 0o700
)

// WriteFile durably replaces path with data, created with mode 0600.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	pending, err := renameio.NewPendingFile(path,
		renameio.WithTempDir(dir),
		renameio.WithStaticPermissions(FileMode))
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer pending.Cleanup()

	if _, err := pending.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := pending.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that a rename or create inside it survives a
// crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll creates dir and its missing parents with mode 0700.
func MkdirAll(dir string) error {
	return os.MkdirAll(dir, DirMode)
}

// IsTempName reports whether a directory entry name is a temporary file left
// by an interrupted WriteFile (renameio names them "."+base+random digits).
func IsTempName(name, base string) bool {
	return strings.HasPrefix(name, "."+base) && len(name) > len(base)+1
}
