package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

// DefaultLevel is the gzip compression level of Write and Snapshot, the
// default level of gzip(1). pgzip compresses 1 MiB blocks on every CPU, and
// its level 6 is faster than gzip's at a similar ratio (BENCHMARKS.md has
// the measurements).
const DefaultLevel = 6

// copyBufferSize is the chunk size of file copies and progress reports.
const copyBufferSize = 1 << 20

// Options configures Write and Snapshot.
type Options struct {
	// Level is the gzip level, from 1 (fastest) to 9 (smallest). 0 means
	// DefaultLevel.
	Level int
	// Progress, when set, is called with the bytes of file data archived
	// so far and the total expected, after each file and each 1 MiB.
	Progress func(done, total int64)
	// Warn, when set, receives each warning as it happens. Result.Warnings
	// has them all as well.
	Warn func(message string)
	// Now returns the creation time recorded in the manifest. nil means
	// time.Now.
	Now func() time.Time
}

// Result describes a written archive.
type Result struct {
	Base         string        `json:"base"`
	Files        int           `json:"files"`
	Dirs         int           `json:"dirs"`
	Bytes        int64         `json:"bytes"`
	ArchiveBytes int64         `json:"archive_bytes"`
	Warnings     []string      `json:"warnings"`
	Manifest     *Manifest     `json:"-"`
	Barrier      time.Duration `json:"-"` // how long Snapshot held the write barrier; 0 for Write
}

func (r *Result) warn(opts Options, format string, args ...any) {
	message := fmt.Sprintf(format, args...)
	r.Warnings = append(r.Warnings, message)
	if opts.Warn != nil {
		opts.Warn(message)
	}
}

// item is one file or directory of the data directory to archive.
type item struct {
	rel string // slash-separated path below the data directory, "" for the directory itself
	dir bool

	// data holds the bytes read under the write barrier when inMemory is
	// set; otherwise the file is opened when its turn comes.
	data     []byte
	inMemory bool
	// completeLines cuts the file after its last newline: an append-only
	// audit log may end in a line that is still being written.
	completeLines bool

	size int64 // from lstat before archiving, for progress only
}

// Write writes a backup of dataDir to w: a gzip-compressed tar archive of
// the directory under its base name, without capsold.lock, ending with
// BACKUP-MANIFEST.json. Only regular files and directories are archived;
// anything else is skipped with a warning.
//
// Write reads the files where they are, each once. While a daemon runs on
// dataDir, every file is still whole, because capsol replaces files by
// rename, but files written during the backup may be newer than others, as
// with the manual tar runbook. Snapshot is consistent across files.
func Write(w io.Writer, dataDir string, opts Options) (*Result, error) {
	dataDir, meta, err := openDataDir(dataDir)
	if err != nil {
		return nil, err
	}
	res := &Result{Base: filepath.Base(dataDir)}
	if info, held, err := store.ReadLock(dataDir); err == nil && held {
		res.warn(opts, "a daemon (pid %d, %s) holds %s: every file is archived whole, but files written during the backup may be newer than others; capsol backup --from-server takes a snapshot consistent across files",
			info.PID, info.URL, dataDir)
	}

	items, err := scan(dataDir, nil)
	if err != nil {
		return nil, err
	}
	return res, writeArchive(w, dataDir, meta, SourceDataDir, items, res, opts)
}

// Snapshot writes the same archive as Write from the data directory of an
// open store, taken under the store's write barrier so that it is
// consistent across files. Snapshot holds the barrier only while it reads
// the top-level *.json files (meta.json and the index files) into memory
// and lists the top level and boxes/, which records the capsules whose
// boxes exist. The daemon's writes wait that long, a few milliseconds for
// 10,000 capsules.
//
// Every other file is listed and read after the barrier is released. This
// is consistent because of how capsol writes them. Box files (entries,
// blobs, blob info, memory.json) and chain-head.json are replaced whole by
// rename, so each read returns one whole version. Blobs are named by their
// SHA-256, so any version of a blob file has the same bytes. Box
// files do not depend on each other, and the index refers to boxes, never
// to single box files. So the boxes of the capsules that existed under the
// barrier, each file at that version or a later one, form a valid data
// directory with the index as of the barrier. Boxes created later are left
// out, and a file deleted before it is read (its capsule deleted) is left
// out with a warning. Audit logs (*.jsonl) are appended to without the
// barrier and are cut after their last complete line.
//
// NOTE: an entry written after the barrier may name a blob that was put
// after it, and that blob may be missing from the archive. get_blob then
// returns not_found for that ref, as for any unknown ref.
func Snapshot(w io.Writer, st *store.Store, opts Options) (*Result, error) {
	thaw := st.Freeze()
	frozen := time.Now()
	state, err := freeze(st.Dir)
	barrier := time.Since(frozen)
	thaw()
	if err != nil {
		return nil, err
	}

	items, err := scan(state.dataDir, state.include)
	if err != nil {
		return nil, err
	}
	items = state.apply(items)
	res := &Result{Base: filepath.Base(state.dataDir), Barrier: barrier}
	return res, writeArchive(w, state.dataDir, state.meta, SourceSnapshot, items, res, opts)
}

// frozenState is the part of the data directory that Snapshot reads
// under the write barrier.
type frozenState struct {
	dataDir string
	meta    store.Meta
	top     map[string]bool   // names at the top of the data directory
	boxes   map[string]bool   // names in boxes/
	index   map[string][]byte // top-level *.json files by name
}

func freeze(dir string) (*frozenState, error) {
	dataDir, meta, err := openDataDir(dir)
	if err != nil {
		return nil, err
	}
	state := &frozenState{dataDir: dataDir, meta: meta, top: map[string]bool{}, boxes: map[string]bool{}, index: map[string][]byte{}}

	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dataDir, err)
	}
	for _, e := range entries {
		state.top[e.Name()] = true
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && e.Name() != ManifestName {
			data, err := os.ReadFile(filepath.Join(dataDir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", e.Name(), err)
			}
			state.index[e.Name()] = data
		}
	}

	boxes, err := os.ReadDir(filepath.Join(dataDir, store.BoxesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list %s: %w", filepath.Join(dataDir, store.BoxesDir), err)
	}
	for _, e := range boxes {
		state.boxes[e.Name()] = true
	}
	return state, nil
}

// include reports whether a path below the data directory existed under
// the barrier, as far as the barrier recorded it.
func (s *frozenState) include(rel string) bool {
	if rel == "" {
		return true
	}
	first, rest, nested := strings.Cut(rel, "/")
	if !s.top[first] {
		return false
	}
	if first != store.BoxesDir || !nested {
		return true
	}
	capsule, _, _ := strings.Cut(rest, "/")
	return s.boxes[capsule]
}

// apply gives the items the bytes read under the barrier, adding an index
// file that was deleted since, and marks the audit logs.
func (s *frozenState) apply(items []item) []item {
	seen := map[string]bool{}
	for i := range items {
		it := &items[i]
		if data, ok := s.index[it.rel]; ok && !it.dir {
			it.data, it.inMemory = data, true
			seen[it.rel] = true
		} else if strings.HasSuffix(it.rel, ".jsonl") {
			it.completeLines = true
		}
	}
	for name, data := range s.index {
		if !seen[name] {
			items = append(items, item{rel: name, data: data, inMemory: true})
		}
	}
	return items
}

// openDataDir returns the absolute data directory and its meta.json. A
// directory without meta.json is refused, because it is not a data
// directory (or was never started), and backing it up is most likely a
// wrong --data-dir.
func openDataDir(dir string) (string, store.Meta, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", store.Meta{}, fmt.Errorf("resolve data directory %s: %w", dir, err)
	}
	info, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", store.Meta{}, fmt.Errorf("data directory %s does not exist; check --data-dir or CAPSOL_DATA_DIR", abs)
	}
	if err != nil {
		return "", store.Meta{}, fmt.Errorf("data directory %s: %w", abs, err)
	}
	if !info.IsDir() {
		return "", store.Meta{}, fmt.Errorf("data directory %s is not a directory; check --data-dir or CAPSOL_DATA_DIR", abs)
	}
	meta, err := store.ReadMeta(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", meta, fmt.Errorf("%s is not a capsol data directory: it has no %s; check --data-dir or CAPSOL_DATA_DIR (a daemon writes %s at its first start)",
			abs, store.MetaFile, store.MetaFile)
	}
	if err != nil {
		return "", meta, fmt.Errorf("cannot back up %s: %w", abs, err)
	}
	return abs, meta, nil
}

// scan lists the data directory in lexical order, without capsold.lock, a
// leftover manifest, and the paths that include, when set, rejects. It
// reads only directory entries, no inodes. A directory that disappears
// while it is listed, such as the box of a capsule being deleted, is left
// out.
func scan(dataDir string, include func(rel string) bool) ([]item, error) {
	var items []item
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dataDir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("list %s: %w", path, err)
		}
		rel, err := filepath.Rel(dataDir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = ""
		}
		if rel == lockFileName || rel == ManifestName || (include != nil && !include(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		items = append(items, item{rel: rel, dir: d.IsDir()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// archiveWriter writes the tar stream of one backup.
type archiveWriter struct {
	dataDir string
	base    string
	tw      *tar.Writer
	res     *Result
	opts    Options
	buf     []byte
	done    int64
	total   int64
	files   []ManifestFile
}

func writeArchive(w io.Writer, dataDir string, meta store.Meta, source string, items []item, res *Result, opts Options) error {
	level := opts.Level
	if level == 0 {
		level = DefaultLevel
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}

	counter := &countingWriter{w: w}
	gz, err := pgzip.NewWriterLevel(counter, level)
	if err != nil {
		return fmt.Errorf("invalid gzip level %d: %w", level, err)
	}
	aw := &archiveWriter{
		dataDir: dataDir, base: filepath.Base(dataDir), tw: tar.NewWriter(gz),
		res: res, opts: opts, buf: make([]byte, copyBufferSize),
	}
	items = aw.measure(items)

	for _, it := range items {
		if err := aw.add(it); err != nil {
			_ = gz.Close()
			return err
		}
	}

	manifest := &Manifest{
		Version: meta.Version, Schema: meta.Schema, CapsolVersion: version.Version,
		Source: source, CreatedAt: now().UTC().Truncate(time.Second), Files: aw.files,
	}
	if err := aw.addManifest(manifest); err != nil {
		_ = gz.Close()
		return err
	}
	if err := aw.tw.Close(); err != nil {
		_ = gz.Close()
		return fmt.Errorf("finish tar stream: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("finish gzip stream: %w", err)
	}
	res.Manifest = manifest
	res.ArchiveBytes = counter.n
	return nil
}

// measure stats every item for the progress total and drops the ones that
// are gone or are neither regular files nor directories.
func (aw *archiveWriter) measure(items []item) []item {
	kept := items[:0]
	for _, it := range items {
		if it.inMemory {
			it.size = int64(len(it.data))
			aw.total += it.size
			kept = append(kept, it)
			continue
		}
		info, err := os.Lstat(aw.path(it.rel))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			aw.res.warn(aw.opts, "%s was deleted while the backup ran and is not in the archive", aw.member(it.rel))
			continue
		case err != nil:
			// add reports the error when it opens the file.
		case !info.IsDir() && !info.Mode().IsRegular():
			aw.res.warn(aw.opts, "skipped %s: it is a %s, and a data directory holds only regular files and directories",
				aw.member(it.rel), fileKind(info.Mode()))
			continue
		default:
			it.dir = info.IsDir()
			if !it.dir {
				it.size = info.Size()
				aw.total += it.size
			}
		}
		kept = append(kept, it)
	}
	return kept
}

func (aw *archiveWriter) path(rel string) string {
	return filepath.Join(aw.dataDir, filepath.FromSlash(rel))
}

// member returns the archive member name of a path below the data
// directory, without the trailing slash of directories.
func (aw *archiveWriter) member(rel string) string {
	if rel == "" {
		return aw.base
	}
	return aw.base + "/" + rel
}

func (aw *archiveWriter) add(it item) error {
	if it.inMemory {
		return aw.addMemory(it)
	}
	if it.dir {
		return aw.addDir(it)
	}
	return aw.addFile(it)
}

func (aw *archiveWriter) addDir(it item) error {
	info, err := os.Lstat(aw.path(it.rel))
	if errors.Is(err, fs.ErrNotExist) {
		aw.res.warn(aw.opts, "%s was deleted while the backup ran and is not in the archive", aw.member(it.rel))
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", aw.path(it.rel), err)
	}
	if !info.IsDir() {
		aw.res.warn(aw.opts, "skipped %s: it was replaced by a %s while the backup ran", aw.member(it.rel), fileKind(info.Mode()))
		return nil
	}
	hdr := header(info)
	hdr.Typeflag = tar.TypeDir
	hdr.Name = aw.member(it.rel) + "/"
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	aw.res.Dirs++
	return nil
}

// addMemory archives a file read under the write barrier. Its metadata is
// taken now: only the bytes must be those of the barrier.
func (aw *archiveWriter) addMemory(it item) error {
	hdr := &tar.Header{Mode: 0o600, ModTime: time.Now()}
	if info, err := os.Lstat(aw.path(it.rel)); err == nil {
		hdr = header(info)
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Name = aw.member(it.rel)
	hdr.Size = int64(len(it.data))
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	sum := sha256.Sum256(it.data)
	if _, err := aw.tw.Write(it.data); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	aw.fileDone(hdr.Name, hdr.Size, hex.EncodeToString(sum[:]))
	aw.progress(hdr.Size)
	return nil
}

func (aw *archiveWriter) addFile(it item) error {
	path := aw.path(it.rel)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		aw.res.warn(aw.opts, "%s was deleted while the backup ran and is not in the archive", aw.member(it.rel))
		aw.progress(it.size)
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		aw.res.warn(aw.opts, "skipped %s: it was replaced by a %s while the backup ran", aw.member(it.rel), fileKind(info.Mode()))
		aw.progress(it.size)
		return nil
	}

	// The size comes from the open file: a replacement by rename does not
	// change it, and bytes appended after this point are left out.
	size := info.Size()
	if it.completeLines {
		if size, err = completeLinesSize(f, size); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	}
	hdr := header(info)
	hdr.Typeflag = tar.TypeReg
	hdr.Name = aw.member(it.rel)
	hdr.Size = size
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}

	hash := sha256.New()
	written, err := aw.copyFile(io.MultiWriter(aw.tw, hash), io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	if written != size {
		return fmt.Errorf("archive %s: the file shrank from %d to %d bytes while it was read; capsol never truncates files, so something else is writing into the data directory",
			path, size, written)
	}
	aw.fileDone(hdr.Name, size, hex.EncodeToString(hash.Sum(nil)))
	// Keep the progress total honest when the file changed size since
	// measure.
	aw.total += size - it.size
	return nil
}

func (aw *archiveWriter) copyFile(dst io.Writer, src io.Reader) (int64, error) {
	var written int64
	for {
		n, readErr := src.Read(aw.buf)
		if n > 0 {
			if _, err := dst.Write(aw.buf[:n]); err != nil {
				return written, err
			}
			written += int64(n)
			aw.progress(int64(n))
		}
		if readErr == io.EOF {
			return written, nil
		}
		if readErr != nil {
			return written, readErr
		}
	}
}

func (aw *archiveWriter) addManifest(m *Manifest) error {
	data, err := encodeManifest(m)
	if err != nil {
		return err
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     aw.base + "/" + ManifestName,
		Mode:     0o600,
		Size:     int64(len(data)),
		ModTime:  m.CreatedAt,
		Uid:      os.Getuid(),
		Gid:      os.Getgid(),
	}
	if err := aw.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	if _, err := aw.tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	return nil
}

func (aw *archiveWriter) fileDone(name string, size int64, sum string) {
	aw.files = append(aw.files, ManifestFile{Path: name, Size: size, SHA256: sum})
	aw.res.Files++
	aw.res.Bytes += size
}

func (aw *archiveWriter) progress(n int64) {
	aw.done += n
	if aw.opts.Progress != nil {
		aw.opts.Progress(aw.done, max(aw.total, aw.done))
	}
}

// header returns a tar header with the permission bits, modification time
// and owner of info. The caller sets the type, name and size.
func header(info fs.FileInfo) *tar.Header {
	hdr := &tar.Header{Mode: int64(info.Mode().Perm()), ModTime: info.ModTime()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	return hdr
}

// completeLinesSize returns the length of the first size bytes of f up to
// and including their last newline, reading backwards from size.
func completeLinesSize(f *os.File, size int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeSymlink != 0:
		return "symbolic link"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "block device"
	case mode.IsDir():
		return "directory"
	case mode.IsRegular():
		return "regular file"
	}
	return "special file"
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
