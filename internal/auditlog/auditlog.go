// Package auditlog writes, reads, verifies and prunes hash-chained audit
// logs: one JSONL file per UTC day, YYYY-MM-DD.jsonl, in one directory.
// Each capsule has one under boxes/<id>/.capsol/logs/ and the registry
// audit is one under audit/.
//
// Every line is a JSON object whose "prev" is the lowercase hex SHA-256 of
// the previous line's bytes without its newline. The first line of a day
// chains to the last line of the previous day file that exists, and the
// first line of all to 64 zeros, or to the head that Prune recorded in
// chain-head.json. Verify therefore detects an edited or deleted line,
// but not a consistent rewrite of every later line. Callers who need
// that should export the chain head that Verify returns to another place.
//
// The package never builds a path from a caller's date without checking
// it with ParseDate first.
package auditlog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
)

// DefaultSyncInterval is how often an open Log fsyncs its file when lines
// were appended since the last fsync.
const DefaultSyncInterval = time.Second

// syncErrorReportInterval is the minimum time between two reports of
// failing background fsyncs while they keep failing.
const syncErrorReportInterval = time.Minute

// maxFutureTimestamp is how far after the current time a record's "ts" may
// be. A later one would open a future day file, and every record after it
// would go into that file until its day came.
const maxFutureTimestamp = time.Hour

// ErrClosed is returned by Append and Sync after Close.
var ErrClosed = errors.New("audit log is closed")

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Now returns the current time. It defaults to time.Now.
	Now func() time.Time
	// OnError receives the problems that Log handles without a caller to
	// return them to: failed background fsyncs, and a partial last line
	// found by Open. It defaults to logging them with slog. It must not
	// call the Log.
	OnError func(error)
	// SyncInterval is the period of the background fsync. It defaults to
	// DefaultSyncInterval.
	SyncInterval time.Duration
}

// Log appends records to the daily files of one directory. It is safe for
// concurrent use. Two Logs on one directory would fork the chain, and
// nothing in this package prevents that.
type Log struct {
	dir     string
	now     func() time.Time
	onError func(error)

	mu sync.Mutex
	// file is the open day file, nil before the first Append.
	file *os.File
	// fileDay is the day of file.
	fileDay string
	// minDay is the earliest day a line may still be written to: the day
	// of the newest file, or the day after a pruned chain head. Lines for
	// earlier days go to minDay so that the chain never forks.
	minDay string
	// prev is the hash of the last line written, the next line's prev.
	prev string
	// resync is set when a failed write may have left a partial line, so
	// the next Append reloads the chain from the file.
	resync bool
	// dirty is set when lines were written since the last fsync.
	dirty  bool
	closed bool
	// buf is reused for each line while mu is held.
	buf []byte

	stopSync chan struct{}
	syncDone chan struct{}
}

// Open prepares appending to the audit log in dir, creating dir with mode
// 0700 when missing. It finds the newest day file and the hash of its last
// line to continue the chain, and starts the background fsync.
//
// When the newest file ends in a partial line, left by a crash during a
// write, Open appends a newline so the next record starts on its own line.
// The partial line stays as evidence, the chain continues from its hash,
// and Verify reports it as invalid JSON.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SyncInterval < 0 {
		return nil, fmt.Errorf("invalid audit log sync interval %s: must be positive, or zero for the default", opts.SyncInterval)
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnError == nil {
		opts.OnError = func(err error) {
			slog.Error("audit log error", "dir", dir, "error", err)
		}
	}

	if err := fsutil.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("create audit log directory: %w", err)
	}
	l := &Log{
		dir:      dir,
		now:      opts.Now,
		onError:  opts.OnError,
		stopSync: make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	if err := l.loadChain(); err != nil {
		return nil, err
	}

	go l.syncLoop(opts.SyncInterval)
	return l, nil
}

// loadChain sets minDay and prev from the files in l.dir. The caller holds
// l.mu or owns l exclusively.
func (l *Log) loadChain() error {
	head, err := readChainHead(l.dir)
	if err != nil {
		return err
	}
	files, _, err := chainedFiles(l.dir, head)
	if err != nil {
		return err
	}

	l.minDay = ""
	if len(files) > 0 {
		newest := files[len(files)-1]
		l.minDay, _ = dayOfFileName(newest)
		ended, err := terminatePartialLine(filepath.Join(l.dir, newest))
		if err != nil {
			return err
		}
		if ended {
			l.onError(fmt.Errorf("audit log %s ended in a partial line, left by an interrupted write: a newline was appended, and Verify reports the line as invalid JSON", newest))
		}
	} else if head != nil {
		headDay, _ := dayOfFileName(head.File)
		l.minDay = nextDay(headDay)
	}

	l.prev, err = chainStart(l.dir, files, head)
	return err
}

// terminatePartialLine appends a newline to path when its last line has
// none, and reports whether it did.
func terminatePartialLine(path string) (bool, error) {
	line, terminated, err := lastLine(path)
	if err != nil {
		return false, fmt.Errorf("read last line of audit log: %w", err)
	}
	if line == nil || terminated {
		return false, nil
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, fsutil.FileMode)
	if err != nil {
		return false, fmt.Errorf("open audit log to end its partial last line: %w", err)
	}
	_, writeErr := f.Write([]byte{'\n'})
	syncErr := f.Sync()
	closeErr := f.Close()
	if err := errors.Join(writeErr, syncErr, closeErr); err != nil {
		return false, fmt.Errorf("end partial last line of %s: %w", path, err)
	}
	return true, nil
}

// Append writes record as one line of the day file of its "ts", with a
// single write(2) on a file opened with O_APPEND. record is any value that
// encodes to a JSON object without a "prev" member, such as a
// CapsuleRecord, a RegistryRecord or a map[string]any.
//
// Append sets "ts" to the current time when the record has none, and
// writes it first as RFC 3339 in UTC with milliseconds. It rejects a "ts"
// more than an hour after the current time. It writes "prev" last. A
// record whose day is before the newest day file goes into that file,
// which happens when the clock steps back or a caller passes an older
// "ts".
//
// Append does not fsync, because it runs on every MCP request. A
// background goroutine fsyncs every Options.SyncInterval, and Sync and
// Close fsync at once. A crash or power loss can therefore lose up to the
// last interval of lines, or leave a partial or zero-filled last line,
// which Verify reports as invalid JSON.
func (l *Log) Append(record any) error {
	encoded, err := encodeRecord(record)
	if err != nil {
		return err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.resync {
		if err := l.reloadChain(); err != nil {
			return err
		}
	}

	now := l.now()
	ts := encoded.ts
	if ts.IsZero() {
		ts = now
	}
	if ts.Sub(now) > maxFutureTimestamp {
		return fmt.Errorf(`invalid "ts" %s in audit record: it is more than %s after the current time %s`,
			ts.UTC().Format(timestampLayout), maxFutureTimestamp, now.UTC().Format(timestampLayout))
	}
	day := max(dayOf(ts), l.minDay)
	if l.file == nil || day != l.fileDay {
		if err := l.openDay(day); err != nil {
			return err
		}
	}

	l.buf = appendLine(l.buf[:0], encoded, ts, l.prev)
	if _, err := l.file.Write(l.buf); err != nil {
		// Part of the line may be on disk. Reload the chain from the
		// file before the next line.
		l.resync = true
		return fmt.Errorf("append to audit log %s: %w", l.file.Name(), err)
	}
	l.prev = hashLine(l.buf[:len(l.buf)-1])
	l.dirty = true
	return nil
}

// reloadChain closes the day file and reloads the chain from disk after a
// failed write. The caller holds l.mu.
func (l *Log) reloadChain() error {
	if l.file != nil {
		// The close error is of no use: the write already failed.
		_ = l.file.Close()
		l.file = nil
	}
	if err := l.loadChain(); err != nil {
		return fmt.Errorf("reload audit log after a failed write: %w", err)
	}
	l.resync = false
	return nil
}

// openDay makes the file of day the open file, fsyncing and closing the
// previous one. The caller holds l.mu.
func (l *Log) openDay(day string) error {
	if l.file != nil {
		syncErr := l.file.Sync()
		closeErr := l.file.Close()
		l.file = nil
		if err := errors.Join(syncErr, closeErr); err != nil {
			l.resync = true
			return fmt.Errorf("close audit log of %s: %w", l.fileDay, err)
		}
	}

	path := filepath.Join(l.dir, dayFileName(day))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fsutil.FileMode)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	// Make the new directory entry durable along with the first fsync of
	// its lines.
	if err := fsutil.SyncDir(l.dir); err != nil {
		_ = f.Close()
		return err
	}

	l.file = f
	l.fileDay = day
	l.minDay = day
	return nil
}

// Sync fsyncs the lines appended so far.
func (l *Log) Sync() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	f := l.file
	l.dirty = false
	l.mu.Unlock()

	// The fsync runs without l.mu so that appends do not wait for it.
	if f == nil {
		return nil
	}
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		// os.ErrClosed means Append switched days and fsynced f itself.
		l.mu.Lock()
		l.dirty = true
		l.mu.Unlock()
		return fmt.Errorf("fsync audit log %s: %w", f.Name(), err)
	}
	return nil
}

// syncLoop fsyncs the open file every interval when lines were appended,
// until Close.
func (l *Log) syncLoop(interval time.Duration) {
	defer close(l.syncDone)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	var lastReport time.Time
	failing := false
	for {
		select {
		case <-l.stopSync:
			return
		case <-ticker.C:
		}

		l.mu.Lock()
		dirty := l.dirty
		l.mu.Unlock()
		if !dirty {
			continue
		}

		err := l.Sync()
		if err == nil || errors.Is(err, ErrClosed) {
			failing = false
			continue
		}
		// Report the first failure, then at most one per interval while
		// the disk keeps failing.
		if !failing || time.Since(lastReport) >= syncErrorReportInterval {
			l.onError(err)
			lastReport = time.Now()
		}
		failing = true
	}
}

// Close stops the background fsync, then fsyncs and closes the open file.
// Calling Close again does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	close(l.stopSync)
	<-l.syncDone

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	syncErr := l.file.Sync()
	closeErr := l.file.Close()
	l.file = nil
	if err := errors.Join(syncErr, closeErr); err != nil {
		return fmt.Errorf("close audit log of %s: %w", l.fileDay, err)
	}
	return nil
}
