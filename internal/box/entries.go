package box

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
)

// Entry limits and defaults.
const (
	MaxEntryBytes       = 1 << 20 // content of one entry
	DefaultContentType  = "text/markdown"
	MaxContentTypeBytes = 255
	MaxTags             = 32
	MaxTagBytes         = 64
	MaxUpdatedByBytes   = 256
	DefaultListLimit    = 100
	MaxListLimit        = 1000
)

// WriteRequest is the input of WriteEntry.
type WriteRequest struct {
	URI         string
	Content     string   // UTF-8 text, at most MaxEntryBytes
	ContentType string   // a media type; "" means DefaultContentType
	Tags        []string // duplicates are dropped, order is kept

	// IfVersion, when set, makes the write fail with version_conflict
	// unless the entry's current version equals it. 0 means the entry must
	// not exist yet.
	IfVersion *int64

	UpdatedBy string // who wrote the entry, such as a connection id
}

// Entry is a stored entry with its content.
type Entry struct {
	URI         string    `json:"uri"`
	Content     string    `json:"content"`
	ContentType string    `json:"content_type"`
	Tags        []string  `json:"tags"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by"`
	Size        int64     `json:"size"` // bytes of Content

	// ExpiresAt is set on signals only.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// EntryMeta is the listing form of an entry, without its content.
type EntryMeta struct {
	URI       string    `json:"uri"`
	Title     string    `json:"title"`
	Tags      []string  `json:"tags"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	Size      int64     `json:"size"`
}

// entryRecord is the JSON document of an entry file.
type entryRecord struct {
	URI         string     `json:"uri"`
	ContentType string     `json:"content_type"`
	Tags        []string   `json:"tags"`
	Version     int64      `json:"version"`
	UpdatedAt   time.Time  `json:"updated_at"`
	UpdatedBy   string     `json:"updated_by,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Content     string     `json:"content"`
}

// WriteEntry creates or replaces the entry at req.URI and returns it with its
// new version: 1 when created, one more than before when replaced. The entry
// is on disk when WriteEntry returns. URIs under notes://signals/ are
// reserved for SendSignal and are rejected with invalid_uri.
func (b *Box) WriteEntry(req WriteRequest) (Entry, error) {
	if err := ValidateURI(req.URI); err != nil {
		return Entry{}, err
	}
	if isSignalURI(req.URI) {
		return Entry{}, reservedURIError(req.URI)
	}
	rec, err := newRecord(req)
	if err != nil {
		return Entry{}, err
	}
	if err := checkIfVersion(req.IfVersion); err != nil {
		return Entry{}, err
	}

	// Tokenizing up to 1 MiB happens before the write lock is taken.
	title := titleOf(rec.Content, rec.ContentType)
	terms := analyze(title, rec.Content, rec.Tags)
	if err := b.storeEntry(rec, title, terms, req.IfVersion); err != nil {
		return Entry{}, err
	}
	b.notify(rec.URI)
	return rec.entry(), nil
}

func (b *Box) storeEntry(rec *entryRecord, title string, terms analysis, ifVersion *int64) error {
	end := b.beginWrite()
	defer end()

	var current int64
	if meta := b.idx.get(rec.URI); meta != nil {
		current = meta.version
	}
	if err := checkVersion(rec.URI, current, ifVersion); err != nil {
		return err
	}
	rec.Version = current + 1
	rec.UpdatedAt = b.now()
	return b.writeRecord(rec, title, terms)
}

// writeRecord writes the entry file and then updates the index. The caller
// holds the write lock.
func (b *Box) writeRecord(rec *entryRecord, title string, terms analysis) error {
	data, err := marshalJSON(rec)
	if err != nil {
		return fmt.Errorf("encode entry %s: %w", rec.URI, err)
	}
	if err := fsutil.WriteFile(b.entryPath(rec.URI), data); err != nil {
		b.resyncEntry(rec.URI)
		return fmt.Errorf("write entry %s: %w", rec.URI, err)
	}

	b.mu.Lock()
	b.idx.put(rec.meta(title), terms)
	b.mu.Unlock()
	return nil
}

// resyncEntry makes the index match the entry file of uri after a failed
// write. fsutil.WriteFile can fail after the rename, when only the directory
// fsync is left, and then the new file is in place. The caller holds the
// write lock.
func (b *Box) resyncEntry(uri string) {
	rec, err := b.readRecord(uri)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		title := titleOf(rec.Content, rec.ContentType)
		b.idx.put(rec.meta(title), analyze(title, rec.Content, rec.Tags))
	case errors.Is(err, ErrNotFound):
		b.idx.remove(uri)
	default:
		b.log.Error("index may differ from the entry file after a failed write", "uri", uri, "error", err)
	}
}

// ReadEntry returns the entry at uri, or a not_found error. An expired signal
// is not found even before it is collected.
func (b *Box) ReadEntry(uri string) (Entry, error) {
	if err := ValidateURI(uri); err != nil {
		return Entry{}, err
	}
	rec, err := b.readRecord(uri)
	if err != nil {
		return Entry{}, err
	}
	if rec.ExpiresAt != nil && !b.now().Before(*rec.ExpiresAt) {
		return Entry{}, notFoundError(uri)
	}
	return rec.entry(), nil
}

// readRecord reads the entry file of uri from disk. It takes no lock, because
// files are replaced by rename, so a read gets a whole old or new file.
func (b *Box) readRecord(uri string) (*entryRecord, error) {
	path := b.entryPath(uri)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFoundError(uri)
	}
	if err != nil {
		return nil, fmt.Errorf("read entry %s: %w", uri, err)
	}
	rec, err := decodeRecord(path, data)
	if err != nil {
		return nil, err
	}
	if rec.URI != uri {
		return nil, fmt.Errorf("%w: %s: contains the entry %s, not %s", ErrCorrupt, path, quote(rec.URI), quote(uri))
	}
	return rec, nil
}

// decodeRecord parses an entry file and checks that it belongs at path.
func decodeRecord(path string, data []byte) (*entryRecord, error) {
	var rec entryRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if err := ValidateURI(rec.URI); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if filepath.Base(path) != entryFileName(rec.URI) {
		return nil, fmt.Errorf("%w: %s: the file name is not the SHA-256 of its URI %s", ErrCorrupt, path, quote(rec.URI))
	}
	if rec.Version < 1 {
		return nil, fmt.Errorf("%w: %s: version %d is below 1", ErrCorrupt, path, rec.Version)
	}
	if rec.Tags == nil {
		rec.Tags = []string{}
	}
	return &rec, nil
}

// DeleteEntry deletes the entry at uri. With ifVersion set it fails with
// version_conflict unless the entry is at that version. A deleted URI starts
// again at version 1 when it is written next.
func (b *Box) DeleteEntry(uri string, ifVersion *int64) error {
	if err := ValidateURI(uri); err != nil {
		return err
	}
	if isSignalURI(uri) {
		return reservedURIError(uri)
	}
	if err := checkIfVersion(ifVersion); err != nil {
		return err
	}
	if err := b.deleteEntry(uri, ifVersion); err != nil {
		return err
	}
	b.notify(uri)
	return nil
}

func (b *Box) deleteEntry(uri string, ifVersion *int64) error {
	end := b.beginWrite()
	defer end()

	meta := b.idx.get(uri)
	if meta == nil {
		return notFoundError(uri)
	}
	if ifVersion != nil && *ifVersion != meta.version {
		return checkVersion(uri, meta.version, ifVersion)
	}
	_, err := b.removeEntries([]string{uri})
	return err
}

// removeEntries deletes the files of uris, drops them from the index and
// returns the URIs it removed. The caller holds the write lock. On error, the
// entries whose files are gone are dropped from the index all the same, so
// that the index matches the disk.
func (b *Box) removeEntries(uris []string) (removed []string, err error) {
	for _, uri := range uris {
		rmErr := os.Remove(b.entryPath(uri))
		if rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = fmt.Errorf("delete entry %s: %w", uri, rmErr)
			break
		}
		removed = append(removed, uri)
	}
	if len(removed) > 0 && err == nil {
		err = fsutil.SyncDir(b.entriesDir())
	}

	b.mu.Lock()
	for _, uri := range removed {
		b.idx.remove(uri)
	}
	b.mu.Unlock()
	return removed, err
}

// ListEntries returns the metadata of live entries whose URI starts with
// prefix, in ascending URI byte order, limit at a time. limit 0 means
// DefaultListLimit. The returned cursor fetches the next page and is "" on
// the last page. An entry written after a page was returned appears on a
// later page when its URI sorts after the cursor.
func (b *Box) ListEntries(prefix, cursor string, limit int) ([]EntryMeta, string, error) {
	limit, err := checkLimit(limit, DefaultListLimit, MaxListLimit)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}

	now := b.now()
	b.mu.RLock()
	defer b.mu.RUnlock()

	metas := make([]EntryMeta, 0, min(limit, b.idx.count()))
	for i := b.idx.rangeStart(prefix, after); i < len(b.idx.sorted); i++ {
		uri := b.idx.sorted[i]
		if !strings.HasPrefix(uri, prefix) {
			break
		}
		meta := b.idx.get(uri)
		if !meta.live(now) {
			continue
		}
		if len(metas) == limit {
			return metas, encodeCursor(metas[len(metas)-1].URI), nil
		}
		metas = append(metas, meta.entryMeta())
	}
	return metas, "", nil
}

// The cursor is the last URI of a page in unpadded base64url. Callers treat
// it as opaque, so its form may change.
func encodeCursor(uri string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(uri))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || ValidateURI(string(raw)) != nil {
		return "", newError(CodeInvalidRequest,
			"the cursor %s is invalid; pass the next_cursor of the previous page unchanged, or omit it to start over",
			quote(cursor))
	}
	return string(raw), nil
}

func notFoundError(uri string) *Error {
	return newError(CodeNotFound, "no entry at %s; list_entries shows the entries that exist", quote(uri))
}

func reservedURIError(uri string) *Error {
	return newError(CodeInvalidURI, "invalid URI %s: URIs under %s are reserved for signals; send one with send_signal, or pick another path",
		quote(uri), signalPrefix)
}

func (rec *entryRecord) entry() Entry {
	return Entry{
		URI:         rec.URI,
		Content:     rec.Content,
		ContentType: rec.ContentType,
		Tags:        rec.Tags,
		Version:     rec.Version,
		UpdatedAt:   rec.UpdatedAt,
		UpdatedBy:   rec.UpdatedBy,
		Size:        int64(len(rec.Content)),
		ExpiresAt:   rec.ExpiresAt,
	}
}

func (rec *entryRecord) meta(title string) *docMeta {
	meta := &docMeta{
		uri:       rec.URI,
		title:     title,
		tags:      slices.Clone(rec.Tags),
		version:   rec.Version,
		updatedAt: rec.UpdatedAt,
		size:      int64(len(rec.Content)),
	}
	if rec.ExpiresAt != nil {
		meta.expiresAt = *rec.ExpiresAt
	}
	return meta
}

func (d *docMeta) entryMeta() EntryMeta {
	return EntryMeta{
		URI:       d.uri,
		Title:     d.title,
		Tags:      append([]string{}, d.tags...),
		Version:   d.version,
		UpdatedAt: d.updatedAt,
		Size:      d.size,
	}
}
