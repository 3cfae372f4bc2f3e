package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/store"
)

// ensureWritableDir creates dir (0700) when missing and proves it writable
// by creating and removing a probe file.
func ensureWritableDir(dir, code, variable string) error {
	fix := fmt.Sprintf("mkdir -p %s && chmod 700 %s", bootfail.ShellQuote(dir), bootfail.ShellQuote(dir))
	if blocker := fileInPath(dir); blocker != "" {
		fix = fmt.Sprintf("%s is a regular file, not a directory: move it aside (mv %s %s.bak) or set %s to another path, then run: %s",
			blocker, bootfail.ShellQuote(blocker), bootfail.ShellQuote(blocker), variable, fix)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return bootfail.New(code, fmt.Sprintf("cannot create %s (%s): %v", dir, variable, err), fix)
	}
	probe, err := os.CreateTemp(dir, ".capsol-write-check-*")
	if err != nil {
		return bootfail.New(code, fmt.Sprintf("cannot write in %s (%s): %v", dir, variable, err), fix)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return bootfail.New(code, fmt.Sprintf("cannot remove files in %s (%s): %v", dir, variable, err), fix)
	}
	return nil
}

// fileInPath returns the first existing component of dir that is not a
// directory, or "".
func fileInPath(dir string) string {
	path := string(filepath.Separator)
	for _, part := range strings.Split(filepath.Clean(dir), string(filepath.Separator)) {
		if part == "" {
			continue
		}
		path = filepath.Join(path, part)
		info, err := os.Stat(path)
		if err != nil {
			return ""
		}
		if !info.IsDir() {
			return path
		}
	}
	return ""
}

func lockFailure(dir string, err error) error {
	var locked *store.LockedError
	if errors.As(err, &locked) {
		stop := "stop it (systemctl stop capsol, or kill the process that holds the lock)"
		if locked.Holder.PID > 0 {
			stop = fmt.Sprintf("stop it (systemctl stop capsol, or kill %d)", locked.Holder.PID)
		}
		return bootfail.New(bootfail.DataDirLocked, locked.Error(),
			fmt.Sprintf("Another capsold is serving %s: %s, or start this one on another directory with CAPSOL_DATA_DIR=/path/to/other-dir.", dir, stop))
	}
	return bootfail.New(bootfail.DataDirNotWritable, err.Error(),
		fmt.Sprintf("mkdir -p %s && chmod 700 %s", bootfail.ShellQuote(dir), bootfail.ShellQuote(dir)))
}

func storeFailure(dir string, err error) error {
	var corrupt *store.CorruptError
	var tooNew *store.SchemaTooNewError
	var migration *store.MigrationError
	switch {
	case errors.As(err, &corrupt):
		base := filepath.Base(dir)
		return bootfail.New(bootfail.CorruptIndex, corrupt.Error(),
			fmt.Sprintf("Restore only this file from your latest backup; the other index files are independent and were not changed: tar -xzf capsol-backup-YYYYmmdd-HHMMSS.tgz -C %s %s",
				bootfail.ShellQuote(filepath.Dir(dir)), bootfail.ShellQuote(base+"/"+corrupt.File)))
	case errors.As(err, &tooNew):
		return bootfail.New(bootfail.SchemaTooNew, tooNew.Error(),
			fmt.Sprintf("Run capsol %s or newer on %s; capsol never downgrades a data directory. To go back to this version, restore a backup taken before the upgrade.",
				orUnknown(tooNew.Found.Version), dir))
	case errors.As(err, &migration):
		return bootfail.New(bootfail.MigrationFailed, migration.Error(),
			fmt.Sprintf("Nothing was lost: meta.json still records the old schema and migrations are idempotent. Check free space and permissions in %s, then start again; if it fails again restore the backup taken before the upgrade.", dir))
	}
	return bootfail.New(bootfail.DataDirNotWritable, err.Error(),
		fmt.Sprintf("mkdir -p %s && chmod 700 %s", bootfail.ShellQuote(dir), bootfail.ShellQuote(dir)))
}

func orUnknown(v string) string {
	if v == "" {
		return "(unknown version)"
	}
	return v
}
