package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/store"
)

// freeSpaceReserve is left free on the target file system by a restore.
const freeSpaceReserve = 64 << 20

// RestoreOptions configures Restore.
type RestoreOptions struct {
	Limits Limits
	// Progress, when set, is called with the compressed bytes read so far
	// and the archive size.
	Progress func(done, total int64)
	// Now returns the time whose Unix seconds name the moved-aside
	// directory. nil means time.Now.
	Now func() time.Time
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	Archive string `json:"archive"`
	DataDir string `json:"data_dir"`
	// MovedTo is the new path of the previous data directory, or "" when
	// there was none.
	MovedTo string  `json:"moved_to"`
	Report  *Report `json:"verification"`
}

// DaemonRunningError is returned when a daemon holds the lock of the data
// directory to restore into.
type DaemonRunningError struct {
	DataDir string
	Holder  store.LockInfo
}

func (e *DaemonRunningError) Error() string {
	who := "a capsol daemon"
	kill := ""
	if e.Holder.PID > 0 {
		who = fmt.Sprintf("a capsol daemon (pid %d, %s)", e.Holder.PID, e.Holder.URL)
		kill = fmt.Sprintf(", or kill %d", e.Holder.PID)
	}
	return fmt.Sprintf("cannot restore into %s: %s holds its lock; stop it first (systemctl stop capsol, docker stop%s), then run the restore again",
		e.DataDir, who, kill)
}

// Restore replaces dataDir with the content of archive, a backup written
// by Write or Snapshot or by the manual tar runbook. The archive's top
// directory may have another name than dataDir.
//
// Restore refuses while a daemon holds the lock of dataDir. It extracts
// into a new directory beside dataDir, checking each member's name, type
// and size before it creates anything for it, so nothing is written outside
// that directory. Only regular files (mode 0600) and directories (mode
// 0700) are created. It then verifies the result as Verify does, flushes it
// to disk, moves the current dataDir, if any, to <dataDir>.broken-<unix>
// and renames the new directory into its place. Nothing is ever deleted but
// the new directory when a step before the rename fails.
func Restore(archive, dataDir string, opts RestoreOptions) (*RestoreResult, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory %s: %w", dataDir, err)
	}
	if filepath.Dir(dataDir) == dataDir {
		return nil, fmt.Errorf("cannot restore into %s: choose a data directory below the file system root", dataDir)
	}
	if err := checkUnlocked(dataDir); err != nil {
		return nil, err
	}

	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat archive %s: %w", archive, err)
	}

	parent := filepath.Dir(dataDir)
	if err := fsutil.MkdirAll(parent); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	limits, err := limitsForDisk(opts.Limits.withDefaults(), parent)
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(parent, "."+filepath.Base(dataDir)+".restore-")
	if err != nil {
		return nil, fmt.Errorf("create a staging directory beside %s: %w", dataDir, err)
	}
	placed := false
	defer func() {
		if !placed {
			_ = os.RemoveAll(staging)
		}
	}()

	report, err := extract(newProgressReader(f, info.Size(), opts.Progress), staging, limits)
	if report != nil {
		report.Archive = archive
	}
	if err != nil {
		return &RestoreResult{Archive: archive, DataDir: dataDir, Report: report},
			fmt.Errorf("restore %s: %w; %s was not changed", archive, err, dataDir)
	}
	if !report.OK() {
		return &RestoreResult{Archive: archive, DataDir: dataDir, Report: report},
			fmt.Errorf("%w; %s was not changed", &InvalidArchiveError{Archive: archive, Report: report}, dataDir)
	}

	if err := adoptOwner(staging, dataDir); err != nil {
		return nil, err
	}
	// One sync(2) makes every extracted file durable before the rename
	// publishes them, far cheaper than an fsync per file.
	syscall.Sync()

	// A daemon started during the extraction would now hold the lock.
	if err := checkUnlocked(dataDir); err != nil {
		return nil, err
	}
	movedTo, err := moveAside(dataDir, now())
	if err != nil {
		return nil, err
	}
	if err := os.Rename(staging, dataDir); err != nil {
		if movedTo != "" {
			if backErr := os.Rename(movedTo, dataDir); backErr != nil {
				return nil, fmt.Errorf("move the restored directory to %s: %w; moving the previous directory back also failed (%v), so it is still at %s",
					dataDir, err, backErr, movedTo)
			}
		}
		return nil, fmt.Errorf("move the restored directory to %s: %w; %s was not changed", dataDir, err, dataDir)
	}
	placed = true
	if err := fsutil.SyncDir(parent); err != nil {
		return nil, err
	}
	return &RestoreResult{Archive: archive, DataDir: dataDir, MovedTo: movedTo, Report: report}, nil
}

func checkUnlocked(dataDir string) error {
	holder, held, err := store.ReadLock(dataDir)
	if err != nil {
		return fmt.Errorf("check whether a daemon runs on %s: %w", dataDir, err)
	}
	if held {
		return &DaemonRunningError{DataDir: dataDir, Holder: holder}
	}
	return nil
}

// limitsForDisk lowers the total limit to the free space of the file
// system of dir, less a reserve, so that a restore fails early instead of
// filling the disk.
func limitsForDisk(limits Limits, dir string) (Limits, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return limits, fmt.Errorf("check free space in %s: %w", dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if usable := free - freeSpaceReserve; usable < limits.MaxTotalBytes {
		limits.MaxTotalBytes = max(usable, 0)
		limits.freeSpaceDir = dir
	}
	return limits, nil
}

// moveAside renames dataDir to <dataDir>.broken-<unix> and returns the new
// path, or "" when dataDir does not exist. A name already taken by an
// earlier restore in the same second gets a counter.
func moveAside(dataDir string, now time.Time) (string, error) {
	if _, err := os.Lstat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("stat %s: %w", dataDir, err)
	}
	target := dataDir + ".broken-" + strconv.FormatInt(now.Unix(), 10)
	for i := 2; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			break
		}
		target = fmt.Sprintf("%s.broken-%d-%d", dataDir, now.Unix(), i)
	}
	if err := os.Rename(dataDir, target); err != nil {
		return "", fmt.Errorf("move %s aside to %s: %w; nothing was changed", dataDir, target, err)
	}
	return target, nil
}

// adoptOwner gives the restored tree the owner of the directory it
// replaces, when running as root: a restore run with sudo must leave files
// that the daemon's user can still read. Without a previous directory the
// files keep root as owner, as a root tar -xzf would leave its own.
func adoptOwner(staging, dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	info, err := os.Stat(dataDir)
	if err != nil {
		return nil
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || (st.Uid == 0 && st.Gid == 0) {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	return filepath.WalkDir(staging, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("give %s the owner of %s (uid %d): %w", path, dataDir, uid, err)
		}
		return nil
	})
}

// extract unpacks the archive read from r into root, which must be a new
// empty directory, and returns the verification report.
func extract(r io.Reader, root string, limits Limits) (*Report, error) {
	c := newChecker(limits, true)
	x := &extractor{root: root}
	if err := c.scan(r, x); err != nil {
		return c.report, err
	}
	report := c.finish()
	if err := x.setDirTimes(); err != nil {
		return report, err
	}
	return report, nil
}

// extractor creates the members that the checker accepted below root.
type extractor struct {
	root     string
	dirTimes []dirTime
}

type dirTime struct {
	path    string
	modTime time.Time
}

// target returns the path of rel below root. parseMemberName rejected any
// "..", "." or empty component in rel, so the path stays below root. The
// check here guards against a later change that breaks that rule.
func (x *extractor) target(rel string) (string, error) {
	target := filepath.Join(x.root, filepath.FromSlash(rel))
	if target != x.root && !strings.HasPrefix(target, x.root+string(filepath.Separator)) {
		return "", fmt.Errorf("member path %q leaves the restore directory", rel)
	}
	return target, nil
}

func (x *extractor) dir(rel string, hdr *tar.Header) error {
	target, err := x.target(rel)
	if err != nil {
		return err
	}
	if rel != "" {
		if err := os.Mkdir(target, fsutil.DirMode); err != nil {
			info, statErr := os.Lstat(target)
			if statErr != nil || !info.IsDir() {
				return fmt.Errorf("create directory for member %q: %w", hdr.Name, err)
			}
		}
	}
	x.dirTimes = append(x.dirTimes, dirTime{path: target, modTime: hdr.ModTime})
	return nil
}

func (x *extractor) file(rel string, hdr *tar.Header) (io.WriteCloser, error) {
	target, err := x.target(rel)
	if err != nil {
		return nil, err
	}
	// Parent directories are created here when the archive has no member
	// for them. root holds no symbolic links, because none are ever
	// extracted, so MkdirAll cannot be led outside it.
	if err := fsutil.MkdirAll(filepath.Dir(target)); err != nil {
		return nil, fmt.Errorf("create the directory of member %q: %w", hdr.Name, err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, fsutil.FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("member %q appears twice in the archive or clashes with a directory of the same name", hdr.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("create the file of member %q: %w", hdr.Name, err)
	}
	return &extractedFile{File: f, modTime: hdr.ModTime}, nil
}

// setDirTimes gives directories their archived modification times, deepest
// first, after their content was created.
func (x *extractor) setDirTimes() error {
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		if err := os.Chtimes(d.path, d.modTime, d.modTime); err != nil {
			return fmt.Errorf("set the modification time of %s: %w", d.path, err)
		}
	}
	return nil
}

// extractedFile sets the archived modification time when it is closed.
type extractedFile struct {
	*os.File
	modTime time.Time
}

func (f *extractedFile) Close() error {
	if err := f.File.Close(); err != nil {
		return err
	}
	return os.Chtimes(f.Name(), f.modTime, f.modTime)
}
