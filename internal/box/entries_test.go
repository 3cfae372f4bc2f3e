package box

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteEntryCreatesVersionOne(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})

	entry, err := b.WriteEntry(WriteRequest{
		URI:       "notes://design/auth",
		Content:   "# Auth\n\nTokens are hashed.",
		Tags:      []string{"design", "auth", "design"},
		UpdatedBy: "con_1",
	})
	require.NoError(t, err)

	assert.Equal(t, "notes://design/auth", entry.URI)
	assert.Equal(t, int64(1), entry.Version)
	assert.Equal(t, DefaultContentType, entry.ContentType)
	assert.Equal(t, []string{"design", "auth"}, entry.Tags)
	assert.Equal(t, clock.Now(), entry.UpdatedAt)
	assert.Equal(t, "con_1", entry.UpdatedBy)
	assert.Equal(t, int64(len("# Auth\n\nTokens are hashed.")), entry.Size)
	assert.Nil(t, entry.ExpiresAt)
}

func TestWriteEntryIncrementsVersion(t *testing.T) {
	b := openTestBox(t, Options{})
	for want := int64(1); want <= 3; want++ {
		entry := write(t, b, "notes://a", fmt.Sprintf("v%d", want))
		assert.Equal(t, want, entry.Version)
	}

	got, err := b.ReadEntry("notes://a")
	require.NoError(t, err)
	assert.Equal(t, "v3", got.Content)
	assert.Equal(t, int64(3), got.Version)
}

func TestReadEntryReturnsWrittenFields(t *testing.T) {
	b := openTestBox(t, Options{})
	written, err := b.WriteEntry(WriteRequest{
		URI:         "docs://api/v1",
		Content:     "line one\nline two <b>&</b>",
		ContentType: "text/plain; charset=utf-8",
		Tags:        []string{"api"},
		UpdatedBy:   "prn_7",
	})
	require.NoError(t, err)

	read, err := b.ReadEntry("docs://api/v1")
	require.NoError(t, err)
	assert.Equal(t, written, read)
	assert.Equal(t, []string{"api"}, read.Tags)
}

func TestReadEntryMissing(t *testing.T) {
	b := openTestBox(t, Options{})
	_, err := b.ReadEntry("notes://missing")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), `"notes://missing"`)
}

func TestWriteEntryIfVersion(t *testing.T) {
	cases := []struct {
		name      string
		existing  int // writes before the checked one
		ifVersion int64
		wantErr   error
		want      int64
	}{
		{"create with zero", 0, 0, nil, 1},
		{"create with nonzero", 0, 1, ErrVersionConflict, 0},
		{"zero on existing", 1, 0, ErrVersionConflict, 0},
		{"matching", 2, 2, nil, 3},
		{"stale", 2, 1, ErrVersionConflict, 0},
		{"ahead", 2, 5, ErrVersionConflict, 0},
		{"negative", 1, -1, ErrInvalidRequest, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			for i := range tc.existing {
				write(t, b, "notes://x", fmt.Sprintf("old %d", i))
			}

			entry, err := b.WriteEntry(WriteRequest{URI: "notes://x", Content: "new", IfVersion: version(tc.ifVersion)})
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				if tc.existing > 0 {
					current, readErr := b.ReadEntry("notes://x")
					require.NoError(t, readErr)
					assert.Equal(t, int64(tc.existing), current.Version, "a rejected write changed the entry")
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, entry.Version)
		})
	}
}

func TestWriteEntryConflictMessageNamesVersions(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://x", "a")
	write(t, b, "notes://x", "b")

	_, err := b.WriteEntry(WriteRequest{URI: "notes://x", Content: "c", IfVersion: version(1)})
	assert.EqualError(t, err, `the entry "notes://x" is at version 2, not 1; read it again, merge your change and retry with if_version 2`)
}

func TestWriteEntryRejectsBadRequests(t *testing.T) {
	cases := []struct {
		name string
		req  WriteRequest
		code string
	}{
		{"bad URI", WriteRequest{URI: "notes://a/../b", Content: "x"}, CodeInvalidURI},
		{"signal URI", WriteRequest{URI: "notes://signals/t/1", Content: "x"}, CodeInvalidURI},
		{"content too large", WriteRequest{URI: "notes://a", Content: strings.Repeat("x", MaxEntryBytes+1)}, CodeTooLarge},
		{"invalid UTF-8", WriteRequest{URI: "notes://a", Content: "\xff\xfe"}, CodeInvalidRequest},
		{"bad content type", WriteRequest{URI: "notes://a", Content: "x", ContentType: "not a type"}, CodeInvalidRequest},
		{"long content type", WriteRequest{URI: "notes://a", Content: "x", ContentType: "text/" + strings.Repeat("x", 300)}, CodeInvalidRequest},
		{"empty tag", WriteRequest{URI: "notes://a", Content: "x", Tags: []string{""}}, CodeInvalidRequest},
		{"padded tag", WriteRequest{URI: "notes://a", Content: "x", Tags: []string{" a"}}, CodeInvalidRequest},
		{"control in tag", WriteRequest{URI: "notes://a", Content: "x", Tags: []string{"a\nb"}}, CodeInvalidRequest},
		{"long tag", WriteRequest{URI: "notes://a", Content: "x", Tags: []string{strings.Repeat("t", MaxTagBytes+1)}}, CodeInvalidRequest},
		{"too many tags", WriteRequest{URI: "notes://a", Content: "x", Tags: make([]string, MaxTags+1)}, CodeInvalidRequest},
		{"control in updated_by", WriteRequest{URI: "notes://a", Content: "x", UpdatedBy: "a\x00"}, CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			_, err := b.WriteEntry(tc.req)
			assert.Equal(t, tc.code, ErrorCode(err), "error: %v", err)

			count, _ := b.Stats()
			assert.Zero(t, count)
			names, readErr := os.ReadDir(b.entriesDir())
			require.NoError(t, readErr)
			assert.Empty(t, names, "a rejected write left a file")
		})
	}
}

func TestWriteEntryAcceptsMaxContent(t *testing.T) {
	b := openTestBox(t, Options{})
	entry := write(t, b, "notes://big", strings.Repeat("x", MaxEntryBytes))
	assert.Equal(t, int64(MaxEntryBytes), entry.Size)
}

func TestDeleteEntry(t *testing.T) {
	cases := []struct {
		name      string
		exists    bool
		ifVersion *int64
		wantErr   error
	}{
		{"existing", true, nil, nil},
		{"matching version", true, version(2), nil},
		{"stale version", true, version(1), ErrVersionConflict},
		{"zero version on existing", true, version(0), ErrVersionConflict},
		{"negative version", true, version(-3), ErrInvalidRequest},
		{"missing", false, nil, ErrNotFound},
		{"missing with version", false, version(1), ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			if tc.exists {
				write(t, b, "notes://d", "one")
				write(t, b, "notes://d", "two")
			}

			err := b.DeleteEntry("notes://d", tc.ifVersion)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				if tc.exists {
					_, readErr := b.ReadEntry("notes://d")
					assert.NoError(t, readErr, "a rejected delete removed the entry")
				}
				return
			}
			require.NoError(t, err)
			_, err = b.ReadEntry("notes://d")
			assert.ErrorIs(t, err, ErrNotFound)
			count, _ := b.Stats()
			assert.Zero(t, count)
		})
	}
}

func TestDeleteEntryThenWriteRestartsVersion(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://r", "a")
	write(t, b, "notes://r", "b")
	require.NoError(t, b.DeleteEntry("notes://r", nil))

	entry := write(t, b, "notes://r", "c")
	assert.Equal(t, int64(1), entry.Version)
}

func TestDeleteEntryRejectsReservedAndBadURIs(t *testing.T) {
	b := openTestBox(t, Options{})
	assert.Equal(t, CodeInvalidURI, ErrorCode(b.DeleteEntry("notes://signals/t/x", nil)))
	assert.Equal(t, CodeInvalidURI, ErrorCode(b.DeleteEntry("notes://%2E%2E/x", nil)))
}

func TestListEntriesOrderAndPrefix(t *testing.T) {
	b := openTestBox(t, Options{})
	for _, uri := range []string{"notes://b", "notes://a/2", "notes://a/1", "docs://z", "notes://a/10"} {
		write(t, b, uri, "# Title of "+uri+"\nbody")
	}

	all, cursor, err := b.ListEntries("", "", 0)
	require.NoError(t, err)
	assert.Empty(t, cursor)
	assert.Equal(t, []string{"docs://z", "notes://a/1", "notes://a/10", "notes://a/2", "notes://b"}, uris(all))
	assert.Equal(t, "Title of docs://z", all[0].Title)
	assert.Equal(t, int64(1), all[0].Version)
	assert.Equal(t, int64(len("# Title of docs://z\nbody")), all[0].Size)

	underA, _, err := b.ListEntries("notes://a/", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://a/1", "notes://a/10", "notes://a/2"}, uris(underA))

	none, cursor, err := b.ListEntries("other://", "", 0)
	require.NoError(t, err)
	assert.Empty(t, none)
	assert.NotNil(t, none)
	assert.Empty(t, cursor)
}

func TestListEntriesPages(t *testing.T) {
	b := openTestBox(t, Options{})
	var want []string
	for i := range 25 {
		uri := fmt.Sprintf("notes://page/%02d", i)
		want = append(want, uri)
		write(t, b, uri, "x")
	}
	write(t, b, "notes://zzz", "outside the prefix")

	var got []string
	cursor := ""
	pages := 0
	for {
		page, next, err := b.ListEntries("notes://page/", cursor, 10)
		require.NoError(t, err)
		got = append(got, uris(page)...)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, want, got)
	assert.Equal(t, 3, pages)
}

func TestListEntriesExactPageHasNoCursor(t *testing.T) {
	b := openTestBox(t, Options{})
	for i := range 3 {
		write(t, b, fmt.Sprintf("notes://%d", i), "x")
	}
	page, cursor, err := b.ListEntries("", "", 3)
	require.NoError(t, err)
	assert.Len(t, page, 3)
	assert.Empty(t, cursor)
}

func TestListEntriesCursorSurvivesDeletion(t *testing.T) {
	b := openTestBox(t, Options{})
	for _, uri := range []string{"notes://a", "notes://b", "notes://c"} {
		write(t, b, uri, "x")
	}
	page, cursor, err := b.ListEntries("", "", 1)
	require.NoError(t, err)
	require.Equal(t, []string{"notes://a"}, uris(page))

	require.NoError(t, b.DeleteEntry("notes://a", nil))
	page, _, err = b.ListEntries("", cursor, 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://b", "notes://c"}, uris(page))
}

func TestListEntriesRejectsBadArguments(t *testing.T) {
	b := openTestBox(t, Options{})
	cases := []struct {
		name   string
		cursor string
		limit  int
	}{
		{"negative limit", "", -1},
		{"limit over max", "", MaxListLimit + 1},
		{"cursor not base64", "!!!", 0},
		{"cursor not a URI", encodeCursor("not a uri"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.ListEntries("", tc.cursor, tc.limit)
			assert.ErrorIs(t, err, ErrInvalidRequest)
		})
	}

	_, _, err := b.ListEntries("", "", MaxListLimit)
	assert.NoError(t, err)
}

func TestListEntriesDoesNotShareTags(t *testing.T) {
	b := openTestBox(t, Options{})
	entry := write(t, b, "notes://t", "x", "keep")
	entry.Tags[0] = "changed by caller"

	page, _, err := b.ListEntries("", "", 0)
	require.NoError(t, err)
	page[0].Tags[0] = "changed by caller"

	page, _, err = b.ListEntries("", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"keep"}, page[0].Tags)
}

func TestOnChangeAndWriteGate(t *testing.T) {
	var mu sync.Mutex
	var changed []string
	gateCalls, releases := 0, 0
	b := openTestBox(t, Options{
		OnChange: func(uri string) {
			mu.Lock()
			defer mu.Unlock()
			changed = append(changed, uri)
		},
		WriteGate: func() func() {
			gateCalls++
			return func() { releases++ }
		},
	})

	write(t, b, "notes://a", "x")
	write(t, b, "notes://a", "y")
	require.NoError(t, b.DeleteEntry("notes://a", nil))
	_, err := b.WriteEntry(WriteRequest{URI: "notes://a/../b"})
	require.Error(t, err)

	assert.Equal(t, []string{"notes://a", "notes://a", "notes://a"}, changed)
	assert.Equal(t, 3, gateCalls, "a rejected request must not take the gate")
	assert.Equal(t, gateCalls, releases)
}

func TestWriteGateBlocksWrites(t *testing.T) {
	var barrier sync.RWMutex
	b := openTestBox(t, Options{
		WriteGate: func() func() {
			barrier.RLock()
			return barrier.RUnlock
		},
	})
	write(t, b, "notes://before", "x")

	barrier.Lock()
	done := make(chan error)
	go func() {
		_, err := b.WriteEntry(WriteRequest{URI: "notes://during", Content: "x"})
		done <- err
	}()

	select {
	case <-done:
		t.Fatal("a write finished while the barrier was held")
	case <-time.After(50 * time.Millisecond):
	}
	// The blocked writer holds the box's write lock, and reads go on.
	_, err := b.ReadEntry("notes://before")
	assert.NoError(t, err, "ReadEntry waited for the barrier")
	_, _, err = b.ListEntries("", "", 0)
	assert.NoError(t, err, "ListEntries waited for the barrier")
	_, err = b.Search("x", "", 0)
	assert.NoError(t, err, "Search waited for the barrier")
	_, err = b.Recall("", "")
	assert.NoError(t, err, "Recall waited for the barrier")
	_, err = b.ListSignals("", time.Time{})
	assert.NoError(t, err, "ListSignals waited for the barrier")
	b.Stats()

	barrier.Unlock()
	assert.NoError(t, <-done)
}

func TestReadEntryRejectsBadURI(t *testing.T) {
	b := openTestBox(t, Options{})
	_, err := b.ReadEntry("notes://../../etc/passwd")
	assert.True(t, errors.Is(err, ErrInvalidURI))
}

func uris(metas []EntryMeta) []string {
	var out []string
	for _, meta := range metas {
		out = append(out, meta.URI)
	}
	return out
}

func TestResyncEntryFollowsDisk(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://a", "old words")

	// A write whose directory fsync failed leaves the new file in place.
	rec := &entryRecord{URI: "notes://a", ContentType: "text/plain", Tags: []string{}, Version: 2, Content: "fresh words"}
	data, err := marshalJSON(rec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(b.entryPath("notes://a"), data, 0o600))
	b.writeMu.Lock()
	b.resyncEntry("notes://a")
	b.writeMu.Unlock()

	page, _, err := b.ListEntries("", "", 0)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, int64(2), page[0].Version)
	hits, err := b.Search("fresh", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"notes://a"}, hitURIs(hits))

	require.NoError(t, os.Remove(b.entryPath("notes://a")))
	b.writeMu.Lock()
	b.resyncEntry("notes://a")
	b.writeMu.Unlock()
	count, _ := b.Stats()
	assert.Zero(t, count)
}
