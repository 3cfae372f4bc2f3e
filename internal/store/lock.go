package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/capsol/capsol/internal/version"
)

// LockInfo is the JSON content of capsold.lock while a daemon runs.
type LockInfo struct {
	PID       int       `json:"pid"`
	URL       string    `json:"url"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// Lock is the exclusive flock a daemon holds on capsold.lock.
type Lock struct {
	flock *flock.Flock
	path  string
	info  LockInfo
}

// LockedError reports that another process holds the data directory.
type LockedError struct {
	Path   string
	Holder LockInfo
}

func (e *LockedError) Error() string {
	if e.Holder.PID > 0 {
		return fmt.Sprintf("%s is held by capsold pid %d (%s, started %s)",
			e.Path, e.Holder.PID, e.Holder.URL, e.Holder.StartedAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s is held by another process", e.Path)
}

// AcquireLock takes the exclusive lock of a data directory without waiting
// and records this process in the lock file.
func AcquireLock(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder, _ := readLockInfo(path)
		return nil, &LockedError{Path: path, Holder: holder}
	}

	l := &Lock{flock: fl, path: path, info: LockInfo{
		PID:       os.Getpid(),
		Version:   version.Version,
		StartedAt: time.Now().UTC().Truncate(time.Second),
	}}
	if err := l.write(); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

// SetURL records the URL the daemon listens on, once the port is bound.
func (l *Lock) SetURL(url string) error {
	l.info.URL = url
	return l.write()
}

// Info returns what the lock file records.
func (l *Lock) Info() LockInfo { return l.info }

// write replaces the content in place: renaming a new file over the lock
// file would leave the flock on an unlinked inode.
func (l *Lock) write() error {
	data, err := json.Marshal(l.info)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", l.path, err)
	}
	defer f.Close()
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", l.path, err)
	}
	if _, err := f.WriteAt(append(data, '\n'), 0); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return f.Sync()
}

// Release empties the lock file and drops the lock.
func (l *Lock) Release() error {
	if err := os.Truncate(l.path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = l.flock.Unlock()
		return fmt.Errorf("truncate %s: %w", l.path, err)
	}
	return l.flock.Unlock()
}

// ReadLock reports whether a daemon holds the lock of dir and what the lock
// file records. It takes the lock for an instant when nobody holds it.
func ReadLock(dir string) (info LockInfo, held bool, err error) {
	path := filepath.Join(dir, LockFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return info, false, nil
	}
	info, _ = readLockInfo(path)

	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryRLock()
	if err != nil {
		return info, false, fmt.Errorf("check lock %s: %w", path, err)
	}
	if ok {
		_ = fl.Unlock()
		return info, false, nil
	}
	return info, true, nil
}

func readLockInfo(path string) (LockInfo, error) {
	var info LockInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if len(data) == 0 {
		return info, errors.New("lock file is empty")
	}
	err = json.Unmarshal(data, &info)
	return info, err
}
