package backup

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	if dataDir, err = resolveLink(dataDir); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("move the restored directory to %s: %w; %s was not changed%s", dataDir, err, dataDir, renameHint(dataDir, err))
	}
	placed = true
	if err := fsutil.SyncDir(parent); err != nil {
		return nil, err
	}
	return &RestoreResult{Archive: archive, DataDir: dataDir, MovedTo: movedTo, Report: report}, nil
}

// resolveLink returns the directory that dataDir points to when it is a
// symbolic link, so that the restore lands where the data lives rather
// than replacing the link.
func resolveLink(dataDir string) (string, error) {
	info, err := os.Lstat(dataDir)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return dataDir, nil
	}
	target, err := filepath.EvalSymlinks(dataDir)
	if err != nil {
		return "", fmt.Errorf("resolve the symbolic link %s: %w", dataDir, err)
	}
	return target, nil
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
		return "", fmt.Errorf("move %s aside to %s: %w; nothing was changed%s", dataDir, target, err, renameHint(dataDir, err))
	}
	return target, nil
}

// renameHint explains the rename failures of a data directory that is a
// mount point, such as a container volume: it cannot be renamed, and a
// directory beside it is on another file system.
func renameHint(dataDir string, err error) string {
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		return fmt.Sprintf(" (%s looks like a mount point: keep the data directory in a subdirectory of the volume, such as %s, or restore by hand)",
			dataDir, filepath.Join(dataDir, "registry-data"))
	}
	return ""
}

// adoptOwner gives the restored tree the owner of the directory it
// replaces, when running as root, so that a restore run with sudo leaves
// files that the daemon's user can still read. Without a previous
// directory the files stay owned by root.
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

// Extraction writes files of up to queuedFileMaxBytes on writeWorkers
// goroutines, because creating many small files is kernel work that
// overlaps well. At most writeQueueLength such files wait in memory.
const (
	writeWorkers       = 4
	writeQueueLength   = 32
	queuedFileMaxBytes = 1 << 20
)

// extract unpacks the archive read from r into root, which must be a new
// empty directory, and returns the verification report. Every member is
// checked on this goroutine before anything is written for it.
func extract(r io.Reader, root string, limits Limits) (*Report, error) {
	c := newChecker(limits, true)
	x := newExtractor(root)
	scanErr := c.scan(r, x)
	writeErr := x.wait()
	if scanErr != nil {
		return c.report, scanErr
	}
	if writeErr != nil {
		return c.report, writeErr
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

	jobs chan *queuedFile
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error // first error of a write worker
}

type dirTime struct {
	path    string
	modTime time.Time
}

func newExtractor(root string) *extractor {
	x := &extractor{root: root, jobs: make(chan *queuedFile, writeQueueLength)}
	for range writeWorkers {
		x.wg.Add(1)
		go x.writeLoop()
	}
	return x
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

// dir creates a directory member. Parent directories are created as well
// when the archive has no member for them. root holds no symbolic links,
// because none are ever extracted, so MkdirAll cannot be led outside it.
func (x *extractor) dir(rel string, hdr *tar.Header) error {
	if err := x.failed(); err != nil {
		return err
	}
	target, err := x.target(rel)
	if err != nil {
		return err
	}
	if err := fsutil.MkdirAll(target); err != nil {
		return fmt.Errorf("create directory for member %q: %w", hdr.Name, err)
	}
	x.dirTimes = append(x.dirTimes, dirTime{path: target, modTime: hdr.ModTime})
	return nil
}

// file returns where a regular file member's bytes go: a buffer written by
// a worker for small files, the file itself for large ones.
func (x *extractor) file(rel string, hdr *tar.Header) (io.WriteCloser, error) {
	if err := x.failed(); err != nil {
		return nil, err
	}
	target, err := x.target(rel)
	if err != nil {
		return nil, err
	}
	if hdr.Size <= queuedFileMaxBytes {
		q := &queuedFile{x: x, path: target, member: hdr.Name, modTime: hdr.ModTime}
		q.data.Grow(int(hdr.Size))
		return q, nil
	}
	f, err := createFile(target, hdr.Name)
	if err != nil {
		return nil, err
	}
	return &extractedFile{File: f, modTime: hdr.ModTime}, nil
}

// wait lets the workers finish the queued files and returns their first
// error.
func (x *extractor) wait() error {
	close(x.jobs)
	x.wg.Wait()
	return x.failed()
}

func (x *extractor) failed() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *extractor) writeLoop() {
	defer x.wg.Done()
	for q := range x.jobs {
		if x.failed() != nil {
			continue
		}
		if err := q.write(); err != nil {
			x.mu.Lock()
			if x.err == nil {
				x.err = err
			}
			x.mu.Unlock()
		}
	}
}

// createFile creates the file of a member, with its parent directories.
// It never opens an existing file or follows a link.
func createFile(target, member string) (*os.File, error) {
	if err := fsutil.MkdirAll(filepath.Dir(target)); err != nil {
		return nil, fmt.Errorf("create the directory of member %q: %w", member, err)
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, fsutil.FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("member %q appears twice in the archive or clashes with a directory of the same name", member)
	}
	if err != nil {
		return nil, fmt.Errorf("create the file of member %q: %w", member, err)
	}
	return f, nil
}

// queuedFile collects a small member's bytes and hands them to a write
// worker when closed.
type queuedFile struct {
	x       *extractor
	path    string
	member  string
	modTime time.Time
	data    bytes.Buffer
}

func (q *queuedFile) Write(p []byte) (int, error) { return q.data.Write(p) }

func (q *queuedFile) Close() error {
	q.x.jobs <- q
	return nil
}

func (q *queuedFile) write() error {
	f, err := createFile(q.path, q.member)
	if err != nil {
		return err
	}
	if _, err := f.Write(q.data.Bytes()); err != nil {
		_ = f.Close()
		return fmt.Errorf("write member %q: %w", q.member, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write member %q: %w", q.member, err)
	}
	return os.Chtimes(q.path, q.modTime, q.modTime)
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
