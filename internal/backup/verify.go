package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/klauspost/pgzip"

	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

// Default limits of Verify and Restore. A capsol file is far below the
// member limit: entries are at most 1 MiB, blobs 16 MiB, memory 4 MiB, and
// only a daily audit log of a very busy capsule or a huge index could grow
// past that. The limits exist to stop a crafted or corrupt archive from
// filling the disk; raise them with RestoreOptions when a real registry
// needs it.
const (
	DefaultMaxMemberBytes int64 = 1 << 30
	DefaultMaxTotalBytes  int64 = 1 << 40
	DefaultMaxMembers           = 10_000_000
)

// maxJSONBuffer is the largest *.json member checked in memory; larger ones
// are checked with a streaming decoder.
const maxJSONBuffer = 64 << 20

// maxListedProblems caps the problems a report lists one by one.
const maxListedProblems = 50

// NoManifestNote is the note of a verified archive without a manifest.
const NoManifestNote = "no manifest (manual backup): the archive structure and every *.json file were checked, but file sizes and checksums cannot be"

// Limits bound what Verify and Restore accept from an archive. Zero fields
// take the defaults.
type Limits struct {
	MaxMemberBytes int64 // size of one file
	MaxTotalBytes  int64 // size of all files together
	MaxMembers     int   // number of members

	// freeSpaceDir is set when Restore lowered MaxTotalBytes to the free
	// space of this directory's file system.
	freeSpaceDir string
}

func (l Limits) withDefaults() Limits {
	if l.MaxMemberBytes <= 0 {
		l.MaxMemberBytes = DefaultMaxMemberBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxMembers <= 0 {
		l.MaxMembers = DefaultMaxMembers
	}
	return l
}

// VerifyOptions configures VerifyFile and VerifyReader.
type VerifyOptions struct {
	Limits Limits
	// Progress, when set, is called with the compressed bytes read so far
	// and the archive size (0 when unknown).
	Progress func(done, total int64)
}

// Report is the result of verifying an archive.
type Report struct {
	Archive string `json:"archive"`
	// Base is the archive's top directory, the base name of the data
	// directory it was made from.
	Base     string `json:"base"`
	Manifest bool   `json:"manifest"`
	// Version and Schema are the layout of the archived data directory,
	// from the manifest or else from meta.json.
	Version   string     `json:"version"`
	Schema    int        `json:"schema"`
	CreatedAt *time.Time `json:"created_at"`
	Files     int        `json:"files"`
	Dirs      int        `json:"dirs"`
	Bytes     int64      `json:"bytes"`
	JSONFiles int        `json:"json_files"`
	// Problems make the archive unfit for a restore; the first
	// maxListedProblems are listed, ProblemCount counts them all.
	Problems     []string `json:"problems"`
	ProblemCount int      `json:"problem_count"`
	Notes        []string `json:"notes"`
}

// OK reports whether the archive passed every check.
func (r *Report) OK() bool { return r.ProblemCount == 0 }

// InvalidArchiveError is returned when verification found problems.
type InvalidArchiveError struct {
	Archive string
	Report  *Report
}

func (e *InvalidArchiveError) Error() string {
	name := e.Archive
	if name == "" {
		name = "archive"
	}
	msg := fmt.Sprintf("%s failed verification with %d problem(s): %s", name, e.Report.ProblemCount, e.Report.Problems[0])
	if e.Report.ProblemCount > 1 {
		msg += fmt.Sprintf(" (and %d more)", e.Report.ProblemCount-1)
	}
	return msg
}

// Verify checks an archive file: the gzip and tar streams, the member names
// and types that Restore accepts, that every *.json file parses, and the
// manifest when there is one. A manifest must name a version and a schema
// and list every file of the archive with its size and SHA-256, and no
// others. An archive without a manifest, as the manual tar runbook makes
// it, gets NoManifestNote. The error is an *InvalidArchiveError when the
// archive was read but has problems.
func Verify(path string) (*Report, error) {
	return VerifyFile(path, VerifyOptions{})
}

// VerifyFile is Verify with options.
func VerifyFile(path string, opts VerifyOptions) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()

	var size int64
	if info, err := f.Stat(); err == nil {
		size = info.Size()
	}
	report, err := verifyStream(newProgressReader(f, size, opts.Progress), opts.Limits)
	report.Archive = path
	if errors.As(err, new(*InvalidArchiveError)) {
		err = &InvalidArchiveError{Archive: path, Report: report}
	}
	return report, err
}

// VerifyReader verifies an archive read from r, such as a download.
func VerifyReader(r io.Reader, opts VerifyOptions) (*Report, error) {
	return verifyStream(newProgressReader(r, 0, opts.Progress), opts.Limits)
}

func verifyStream(r io.Reader, limits Limits) (*Report, error) {
	c := newChecker(limits, false)
	err := c.scan(r, nil)
	report := c.finish()
	if err != nil {
		return report, err
	}
	if !report.OK() {
		return report, &InvalidArchiveError{Report: report}
	}
	return report, nil
}

// fileSum is the size and SHA-256 of one regular file of an archive.
type fileSum struct {
	size int64
	sum  string
}

// sink receives the members of an archive that passed the checks. Restore
// extracts them; Verify has none.
type sink interface {
	dir(rel string, hdr *tar.Header) error
	// file returns where the member's bytes go.
	file(rel string, hdr *tar.Header) (io.WriteCloser, error)
}

// checker applies the member rules to an archive and collects a Report. In
// strict mode, as in Restore, the first unsafe member ends the scan with an
// error. Otherwise the checker records it as a problem and goes on.
type checker struct {
	limits Limits
	strict bool
	report *Report

	base         string
	members      int
	total        int64
	files        map[string]fileSum // regular files by member name, without the manifest
	manifestData []byte
	manifestSeen bool
	metaData     []byte
	buf          []byte
}

func newChecker(limits Limits, strict bool) *checker {
	return &checker{
		limits: limits.withDefaults(),
		strict: strict,
		report: &Report{Problems: []string{}, Notes: []string{}},
		files:  map[string]fileSum{},
		buf:    make([]byte, copyBufferSize),
	}
}

func (c *checker) problem(format string, args ...any) {
	c.report.ProblemCount++
	if len(c.report.Problems) < maxListedProblems {
		c.report.Problems = append(c.report.Problems, fmt.Sprintf(format, args...))
	}
}

// unsafe reports a member that Restore refuses: an error in strict mode,
// a problem otherwise.
func (c *checker) unsafe(err error) error {
	if c.strict {
		return err
	}
	c.problem("%v", err)
	return nil
}

// scan reads the gzip-compressed tar stream r and passes every accepted
// member to s, which may be nil.
func (c *checker) scan(r io.Reader, s sink) error {
	gz, err := pgzip.NewReader(r)
	if err != nil {
		c.problem("not a gzip-compressed archive: %v", err)
		return c.streamError(fmt.Errorf("not a gzip-compressed archive: %w", err))
	}
	defer gz.Close()

	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.problem("the archive is truncated or corrupt: %v", err)
			return c.streamError(fmt.Errorf("read archive: %w; the archive is truncated or corrupt", err))
		}
		if err := c.member(tr, hdr, s); err != nil {
			return err
		}
	}
	if c.members == 0 {
		c.problem("the archive has no members")
	}
	return nil
}

// streamError returns err in strict mode; Verify only records it, because
// the report already holds the problem.
func (c *checker) streamError(err error) error {
	if c.strict {
		return err
	}
	return nil
}

func (c *checker) member(tr *tar.Reader, hdr *tar.Header, s sink) error {
	// A pax global header carries defaults for the members after it and
	// is no file. git archive writes one.
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	c.members++
	if c.members > c.limits.MaxMembers {
		return c.unsafe(fmt.Errorf("the archive has more than %d members; raise the limit (capsol restore --max-files) if the registry really has that many files", c.limits.MaxMembers))
	}

	name, err := parseMemberName(hdr.Name)
	if err != nil {
		return c.unsafe(err)
	}
	if c.base == "" {
		c.base = name.base
		c.report.Base = name.base
	} else if name.base != c.base {
		return c.unsafe(fmt.Errorf("member %q is outside %s/: a backup contains exactly one top-level directory", hdr.Name, c.base))
	}
	if err := c.checkType(hdr, name); err != nil {
		return c.unsafe(err)
	}

	if hdr.Typeflag == tar.TypeDir {
		c.report.Dirs++
		if s != nil {
			return s.dir(name.rel, hdr)
		}
		return nil
	}

	c.total += hdr.Size
	if c.total > c.limits.MaxTotalBytes {
		if c.limits.freeSpaceDir != "" {
			return c.unsafe(fmt.Errorf("member %q brings the files to more than the %d bytes free in %s (less a reserve of %d bytes); free disk space and retry",
				hdr.Name, c.limits.MaxTotalBytes, c.limits.freeSpaceDir, freeSpaceReserve))
		}
		return c.unsafe(fmt.Errorf("member %q brings the files to more than %d bytes, the limit for one archive; raise it (capsol restore --max-total-size) if the archive is genuine",
			hdr.Name, c.limits.MaxTotalBytes))
	}
	switch name.rel {
	case lockFileName:
		// Manual backups of a running registry contain the lock file. It
		// is never restored: the daemon creates it at boot.
		c.note("%s is in the archive and is not restored", hdr.Name)
		return nil
	case ManifestName:
		return c.readManifest(tr, hdr)
	}
	return c.file(tr, hdr, name, s)
}

// checkType accepts directories and regular files within the size limit.
func (c *checker) checkType(hdr *tar.Header, name memberName) error {
	const only = "capsol restore extracts only regular files and directories"
	switch hdr.Typeflag {
	case tar.TypeDir:
		return nil
	case tar.TypeReg:
		if name.rel == "" {
			return fmt.Errorf("member %q is a file where the data directory should be", hdr.Name)
		}
		if hdr.Size > c.limits.MaxMemberBytes {
			return fmt.Errorf("member %q is %d bytes, over the limit of %d bytes for one file; raise it (capsol restore --max-file-size) if the file is genuine",
				hdr.Name, hdr.Size, c.limits.MaxMemberBytes)
		}
		return nil
	case tar.TypeSymlink:
		return fmt.Errorf("member %q is a symbolic link to %q; %s", hdr.Name, hdr.Linkname, only)
	case tar.TypeLink:
		return fmt.Errorf("member %q is a hard link to %q; %s", hdr.Name, hdr.Linkname, only)
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("member %q is a device node; %s", hdr.Name, only)
	case tar.TypeFifo:
		return fmt.Errorf("member %q is a named pipe; %s", hdr.Name, only)
	}
	return fmt.Errorf("member %q has the unsupported tar type %q; %s", hdr.Name, hdr.Typeflag, only)
}

func (c *checker) readManifest(tr *tar.Reader, hdr *tar.Header) error {
	if c.manifestSeen {
		c.problem("%s appears twice in the archive", hdr.Name)
		return nil
	}
	c.manifestSeen = true
	data, err := io.ReadAll(tr)
	if err != nil {
		c.problem("read %s: %v", hdr.Name, err)
		return c.streamError(fmt.Errorf("read %s: %w", hdr.Name, err))
	}
	c.manifestData = data
	return nil
}

// file reads one regular file, hashing it, checking *.json files, and
// copying it to the sink when there is one.
func (c *checker) file(tr *tar.Reader, hdr *tar.Header, name memberName, s sink) error {
	if _, dup := c.files[hdr.Name]; dup {
		return c.unsafe(fmt.Errorf("member %q appears twice in the archive", hdr.Name))
	}

	var dst io.WriteCloser
	if s != nil {
		var err error
		if dst, err = s.file(name.rel, hdr); err != nil {
			return err
		}
	}
	isJSON := strings.HasSuffix(name.rel, ".json")
	keep := name.rel == store.MetaFile
	sum, data, jsonErr, err := c.consume(tr, dst, hdr.Size, isJSON, keep)
	if dst != nil {
		if closeErr := dst.Close(); err == nil && closeErr != nil {
			err = fmt.Errorf("write %s: %w", hdr.Name, closeErr)
		}
	}
	if err != nil {
		c.problem("read %s: %v", hdr.Name, err)
		return c.streamError(fmt.Errorf("read %s: %w", hdr.Name, err))
	}

	c.files[hdr.Name] = fileSum{size: hdr.Size, sum: sum}
	c.report.Files++
	c.report.Bytes += hdr.Size
	if isJSON {
		c.report.JSONFiles++
		if jsonErr != nil {
			c.problem("%s is not valid JSON: %v", hdr.Name, jsonErr)
		}
	}
	if keep {
		c.metaData = data
	}
	return nil
}

// consume reads body to its end, copying it to dst when set, and returns
// its hex SHA-256. For *.json files it also returns why the bytes are not
// exactly one JSON value, and with keep it returns the bytes themselves
// unless they are over maxJSONBuffer.
func (c *checker) consume(body io.Reader, dst io.Writer, size int64, isJSON, keep bool) (sum string, data []byte, jsonErr, err error) {
	hash := sha256.New()
	var w io.Writer = hash
	if dst != nil {
		w = io.MultiWriter(hash, dst)
	}

	switch {
	case !isJSON:
		_, err = io.CopyBuffer(w, body, c.buf)
	case size <= maxJSONBuffer:
		var buf bytes.Buffer
		buf.Grow(int(min(size, maxJSONBuffer)))
		if _, err = io.CopyBuffer(io.MultiWriter(w, &buf), body, c.buf); err == nil {
			jsonErr = checkJSON(buf.Bytes())
			if keep {
				data = buf.Bytes()
			}
		}
	default:
		tee := io.TeeReader(body, w)
		jsonErr = checkJSONStream(tee)
		_, err = io.CopyBuffer(io.Discard, tee, c.buf)
	}
	return hex.EncodeToString(hash.Sum(nil)), data, jsonErr, err
}

func (c *checker) note(format string, args ...any) {
	c.report.Notes = append(c.report.Notes, fmt.Sprintf(format, args...))
}

// finish compares the files with the manifest and checks meta.json.
func (c *checker) finish() *Report {
	if c.members == 0 {
		return c.report
	}
	c.checkMeta()
	if !c.manifestSeen {
		c.note("%s", NoManifestNote)
		return c.report
	}
	c.report.Manifest = true
	c.checkManifest()
	return c.report
}

func (c *checker) checkMeta() {
	name := c.base + "/" + store.MetaFile
	if _, ok := c.files[name]; !ok {
		c.problem("%s is missing, so this is not a backup of a capsol data directory", name)
		return
	}
	if c.metaData == nil {
		c.problem("%s is %d bytes, too large to be a layout record", name, c.files[name].size)
		return
	}
	var meta store.Meta
	if err := json.Unmarshal(c.metaData, &meta); err != nil {
		return // reported as invalid JSON already
	}
	if meta.Schema < 1 || meta.Version == "" {
		c.problem("%s has no version or schema (found version %q, schema %d)", name, meta.Version, meta.Schema)
		return
	}
	c.report.Version, c.report.Schema = meta.Version, meta.Schema
	if meta.Schema > version.Schema {
		c.note("the data directory has schema %d (capsol %s), newer than this capsol %s knows (schema %d): its daemon refuses it with schema_too_new, so restore it with capsol %s or newer",
			meta.Schema, meta.Version, version.Version, version.Schema, meta.Version)
	}
}

func (c *checker) checkManifest() {
	name := c.base + "/" + ManifestName
	m, err := decodeManifest(c.manifestData)
	if err != nil {
		c.problem("%s is not valid JSON: %v", name, err)
		return
	}
	if m.Version == "" || m.Schema < 1 {
		c.problem("%s has no version or schema (found version %q, schema %d)", name, m.Version, m.Schema)
	} else if c.report.Version != "" && (m.Version != c.report.Version || m.Schema != c.report.Schema) {
		c.problem("%s records version %s schema %d, but meta.json has version %s schema %d",
			name, m.Version, m.Schema, c.report.Version, c.report.Schema)
	}
	if m.CreatedAt.IsZero() {
		c.problem("%s has no created_at", name)
	} else {
		created := m.CreatedAt
		c.report.CreatedAt = &created
	}
	if c.report.Version == "" {
		c.report.Version, c.report.Schema = m.Version, m.Schema
	}

	listed := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if listed[f.Path] {
			c.problem("%s lists %s twice", name, f.Path)
			continue
		}
		listed[f.Path] = true
		got, ok := c.files[f.Path]
		switch {
		case !ok:
			c.problem("%s is listed in the manifest but missing from the archive", f.Path)
		case got.size != f.Size:
			c.problem("%s is %d bytes, but the manifest says %d", f.Path, got.size, f.Size)
		case got.sum != f.SHA256:
			c.problem("%s has SHA-256 %s, but the manifest says %s: the file changed after the backup was written", f.Path, got.sum, f.SHA256)
		}
	}
	for member := range c.files {
		if !listed[member] {
			c.problem("%s is in the archive but not listed in the manifest", member)
		}
	}
}

// checkJSON returns why data is not exactly one JSON value, or nil.
func checkJSON(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v json.RawMessage
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

// checkJSONStream is checkJSON for values too large to hold in memory.
func checkJSONStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	depth := 0
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if depth == 0 {
			values++
			if values > 1 {
				return errors.New("more than one JSON value")
			}
		}
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
	}
	if values == 0 {
		return errors.New("unexpected end of JSON input")
	}
	return nil
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r        io.Reader
	done     int64
	total    int64
	progress func(done, total int64)
}

func newProgressReader(r io.Reader, total int64, progress func(done, total int64)) io.Reader {
	if progress == nil {
		return r
	}
	return &progressReader{r: r, total: total, progress: progress}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.progress(p.done, p.total)
	return n, err
}
