// Package box stores the content of one capsule in the capsule's box
// directory, boxes/<capsule-id>/.capsol/ in the data directory: knowledge
// entries addressed by URI, content-addressed blobs, a key–value memory and
// short-lived signals. The layout under that directory is
//
//	entries/<hex SHA-256 of the URI>.json   one file per entry
//	blobs/sha256/<hex SHA-256 of the data>  blob bytes
//	blobs/sha256/<hex>.json                 the blob's content type
//	memory.json                             key–value memory
//
// Every file is written with fsutil.WriteFile, so a reader, a backup or a
// restart after a crash finds the whole old or the whole new file. No file
// name contains request text. Names are hex digests, so no URI or ref can
// reach a file outside the box directory.
//
// A Box serializes its writes and returns after they are on disk. It keeps
// the entries' metadata and a full-text index in memory, rebuilt from the
// files by Open, so reads never wait for an fsync. Only one Box may be open
// on a directory at a time.
package box

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/capsol/capsol/internal/fsutil"
)

// Options configures a Box. The zero value is ready to use.
type Options struct {
	// WriteGate, when set, is called before each change to the box's files,
	// and the function it returns is called after the change. The daemon
	// uses it as a store-wide write barrier so that a backup is consistent.
	// The Box calls it while holding its own write lock, so WriteGate must
	// not wait for another write to the same Box.
	WriteGate func() (release func())

	// OnChange, when set, is called with the URI of every entry that was
	// written, deleted or collected as an expired signal. It runs after the
	// change is on disk and outside the Box's locks, so it may call the Box.
	OnChange func(uri string)

	// Now returns the current time. nil means time.Now.
	Now func() time.Time

	// SignalTTL is the lifetime of a signal sent with ttl 0. 0 means
	// DefaultSignalTTL.
	SignalTTL time.Duration

	// Logger receives warnings about unexpected files that Open skips. nil
	// means slog.Default().
	Logger *slog.Logger
}

// Box is the content store of one capsule. Its methods are safe for
// concurrent use.
type Box struct {
	dir  string
	opts Options
	log  *slog.Logger

	// writeMu serializes changes and is held across fsyncs. mu guards idx,
	// memory and blobBytes. A writer takes mu only to update these fields
	// after its files are written, so readers never wait for an fsync.
	writeMu   sync.Mutex
	mu        sync.RWMutex
	idx       *index
	memory    map[string]string // replaced on change, never changed in place
	blobBytes int64

	signalEntropy *ulid.MonotonicEntropy // guarded by writeMu
}

// Open opens the box in dir, the capsule's .capsol directory, creating the
// directories that are missing. It reads every entry file to rebuild the
// index and skips leftover temporary files of interrupted writes. A file that
// cannot be parsed makes Open fail with an error wrapping ErrCorrupt that
// names the file.
func Open(dir string, opts Options) (*Box, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SignalTTL < 0 {
		return nil, fmt.Errorf("open box %s: SignalTTL %v is negative; pass a positive duration or 0 for the default", dir, opts.SignalTTL)
	}
	if opts.SignalTTL == 0 {
		opts.SignalTTL = DefaultSignalTTL
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}

	b := &Box{
		dir:           dir,
		opts:          opts,
		log:           logger.With("box", dir),
		idx:           newIndex(),
		memory:        map[string]string{},
		signalEntropy: ulid.Monotonic(rand.Reader, 0),
	}
	if err := ensureDirs(dir, b.entriesDir(), filepath.Join(dir, "blobs"), b.blobDir()); err != nil {
		return nil, fmt.Errorf("open box %s: %w", dir, err)
	}
	if err := b.loadEntries(); err != nil {
		return nil, fmt.Errorf("open box %s: %w", dir, err)
	}
	if err := b.loadBlobs(); err != nil {
		return nil, fmt.Errorf("open box %s: %w", dir, err)
	}
	if err := b.loadMemory(); err != nil {
		return nil, fmt.Errorf("open box %s: %w", dir, err)
	}
	return b, nil
}

// Dir returns the box directory that Open was given.
func (b *Box) Dir() string {
	return b.dir
}

// Stats returns the number of live entries, signals included, and the total
// size of the stored blobs in bytes.
func (b *Box) Stats() (entryCount int, blobBytes int64) {
	now := b.now()
	b.mu.RLock()
	defer b.mu.RUnlock()

	// Expired signals stay in the index until the next SendSignal collects
	// them, but they are no longer entries.
	entryCount = b.idx.count()
	for i := b.idx.rangeStart(signalPrefix, ""); i < len(b.idx.sorted); i++ {
		meta := b.idx.get(b.idx.sorted[i])
		if !isSignalURI(meta.uri) {
			break
		}
		if !meta.live(now) {
			entryCount--
		}
	}
	return entryCount, b.blobBytes
}

// beginWrite takes the write lock and then the write gate, and returns the
// function that releases both. The lock comes first so that writers queued
// on one box do not hold the gate, which would stall a backup waiting for it.
func (b *Box) beginWrite() (end func()) {
	b.writeMu.Lock()
	release := func() {}
	if b.opts.WriteGate != nil {
		release = b.opts.WriteGate()
	}
	return func() {
		release()
		b.writeMu.Unlock()
	}
}

func (b *Box) notify(uris ...string) {
	if b.opts.OnChange == nil {
		return
	}
	for _, uri := range uris {
		b.opts.OnChange(uri)
	}
}

func (b *Box) now() time.Time {
	return b.opts.Now().UTC()
}

func (b *Box) entriesDir() string { return filepath.Join(b.dir, "entries") }
func (b *Box) blobDir() string    { return filepath.Join(b.dir, "blobs", "sha256") }
func (b *Box) memoryPath() string { return filepath.Join(b.dir, "memory.json") }

// entryPath returns the file of an entry. The name is a digest of the URI, so
// it never contains URI text.
func (b *Box) entryPath(uri string) string {
	return filepath.Join(b.entriesDir(), entryFileName(uri))
}

func entryFileName(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:]) + ".json"
}

// ensureDirs creates the missing directories of paths, in order, and fsyncs
// the parent of each one it creates so that the new directory survives a
// crash.
func ensureDirs(paths ...string) error {
	for _, path := range paths {
		info, err := os.Stat(path)
		switch {
		case err == nil && info.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("%s exists but is not a directory", path)
		case !os.IsNotExist(err):
			return err
		}
		if err := fsutil.MkdirAll(path); err != nil {
			return err
		}
		if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
			return err
		}
	}
	return nil
}

// marshalJSON encodes v as one line of JSON followed by a newline. It does
// not escape <, > and &, which Markdown content is full of.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
