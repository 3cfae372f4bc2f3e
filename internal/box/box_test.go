package box

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/fsutil"
)

func TestOpenCreatesLayout(t *testing.T) {
	b := openTestBox(t, Options{})
	for _, dir := range []string{b.Dir(), b.entriesDir(), b.blobDir()} {
		info, err := os.Stat(dir)
		require.NoError(t, err)
		assert.True(t, info.IsDir())
		assert.Equal(t, fsutil.DirMode, info.Mode().Perm(), dir)
	}
}

func TestOpenRejectsFileAsDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	_, err := Open(path, Options{})
	assert.Error(t, err)
}

func TestOpenRejectsNegativeSignalTTL(t *testing.T) {
	_, err := Open(t.TempDir(), Options{SignalTTL: -time.Second})
	assert.ErrorContains(t, err, "SignalTTL")
}

func TestReopenRebuildsState(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})
	for i := range 30 {
		write(t, b, fmt.Sprintf("notes://topic/%02d", i), fmt.Sprintf("# Entry %d\n\nword%d common text", i, i), "tag")
	}
	write(t, b, "notes://topic/05", "# Rewritten\n\nreplacement text common")
	require.NoError(t, b.DeleteEntry("notes://topic/07", nil))
	ref, _, err := b.PutBlob([]byte("blob data"), "text/plain")
	require.NoError(t, err)
	require.NoError(t, b.Remember("k", "v"))
	signal, _, err := b.SendSignal("t", "hello", time.Hour)
	require.NoError(t, err)

	reopened := reopen(t, b)

	wantList, _, err := b.ListEntries("", "", MaxListLimit)
	require.NoError(t, err)
	gotList, _, err := reopened.ListEntries("", "", MaxListLimit)
	require.NoError(t, err)
	assert.Equal(t, wantList, gotList)

	for _, query := range []string{"common", "replacement", "word12 word13", "hello", "entry"} {
		want, err := b.Search(query, "", MaxSearchLimit)
		require.NoError(t, err)
		got, err := reopened.Search(query, "", MaxSearchLimit)
		require.NoError(t, err)
		assert.Equal(t, want, got, query)
	}

	wantCount, wantBlobBytes := b.Stats()
	gotCount, gotBlobBytes := reopened.Stats()
	assert.Equal(t, wantCount, gotCount)
	assert.Equal(t, 30, gotCount) // 30 written, 1 deleted, 1 signal
	assert.Equal(t, wantBlobBytes, gotBlobBytes)

	entry, err := reopened.ReadEntry("notes://topic/05")
	require.NoError(t, err)
	assert.Equal(t, int64(2), entry.Version)
	next := write(t, reopened, "notes://topic/05", "third")
	assert.Equal(t, int64(3), next.Version, "versions continue after reopen")

	data, _, err := reopened.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, "blob data", string(data))
	memory, err := reopened.Recall("k", "")
	require.NoError(t, err)
	assert.Equal(t, "v", memory["k"])
	_, err = reopened.ReadEntry(signal)
	assert.NoError(t, err)
}

func TestOpenSkipsTemporaryAndUnknownFiles(t *testing.T) {
	b := openTestBox(t, Options{})
	entry := write(t, b, "notes://kept", "x")
	name := entryFileName(entry.URI)

	// Leftovers as an interrupted fsutil.WriteFile would leave them.
	leftovers := []string{
		filepath.Join(b.entriesDir(), "."+name+"123456789"),
		filepath.Join(b.entriesDir(), "README"),
		filepath.Join(b.blobDir(), ".0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef987"),
	}
	for _, path := range leftovers {
		require.NoError(t, os.WriteFile(path, []byte("partial {"), 0o600))
	}

	reopened := reopen(t, b)
	count, blobBytes := reopened.Stats()
	assert.Equal(t, 1, count)
	assert.Zero(t, blobBytes)
	for _, path := range leftovers {
		assert.FileExists(t, path, "Open must not delete files")
	}
}

func TestOpenRejectsCorruptEntry(t *testing.T) {
	cases := []struct {
		name    string
		content func(b *Box) []byte
	}{
		{"not JSON", func(*Box) []byte { return []byte("{") }},
		{"invalid URI", func(*Box) []byte { return []byte(`{"uri":"notes://../x","version":1}`) }},
		{"version zero", func(*Box) []byte { return []byte(`{"uri":"notes://x","version":0}`) }},
		{"name does not match URI", func(*Box) []byte { return []byte(`{"uri":"notes://other","version":1}`) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			write(t, b, "notes://x", "fine")
			path := b.entryPath("notes://x")
			require.NoError(t, os.WriteFile(path, tc.content(b), 0o600))

			_, err := Open(b.Dir(), Options{})
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, path)
		})
	}
}

func TestFilesStayInsideBox(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "boxes", "cap_x", ".capsol")
	b, err := Open(dir, Options{})
	require.NoError(t, err)

	hostile := []string{
		"notes://../../escape",
		"notes://%2E%2E/%2E%2E/escape",
		"notes:///tmp/escape",
		`notes://..\..\escape`,
		"notes://a\x00/escape",
		"../../../escape://x",
	}
	for _, uri := range hostile {
		_, err := b.WriteEntry(WriteRequest{URI: uri, Content: "x"})
		assert.ErrorIs(t, err, ErrInvalidURI, uri)
	}
	_, _, err = b.GetBlob("blob:sha256:../../../../escape")
	assert.ErrorIs(t, err, ErrInvalidURI)

	write(t, b, "notes://a/b/c/d/e", "nested URI, flat file")
	write(t, b, "weird-scheme+x://%2F%2F/%C3%A9", "escapes")
	_, _, err = b.PutBlob([]byte("blob"), "text/plain")
	require.NoError(t, err)
	require.NoError(t, b.Remember("../../key", "value"))
	_, _, err = b.SendSignal("topic", "signal", time.Hour)
	require.NoError(t, err)

	err = filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, relErr := filepath.Rel(dir, path)
		require.NoError(t, relErr)
		if entry.IsDir() {
			return nil
		}
		assert.False(t, strings.HasPrefix(rel, ".."), "file outside the box: %s", path)
		info, infoErr := entry.Info()
		require.NoError(t, infoErr)
		assert.Equal(t, fsutil.FileMode, info.Mode().Perm(), path)
		return nil
	})
	require.NoError(t, err)

	entries, err := os.ReadDir(b.entriesDir())
	require.NoError(t, err)
	for _, entry := range entries {
		assert.True(t, isEntryFileName(entry.Name()), entry.Name())
	}
}

func TestConcurrentWriters(t *testing.T) {
	b := openTestBox(t, Options{})
	const writers, writesEach = 8, 15

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range writesEach {
				_, err := b.WriteEntry(WriteRequest{URI: "notes://shared", Content: fmt.Sprintf("writer %d write %d", w, i)})
				assert.NoError(t, err)
				_, err = b.WriteEntry(WriteRequest{URI: fmt.Sprintf("notes://own/%d/%d", w, i), Content: "own words"})
				assert.NoError(t, err)
			}
		})
	}
	// Readers run against the writers.
	for range 4 {
		wg.Go(func() {
			for range writesEach {
				_, err := b.Search("words writer", "", 0)
				assert.NoError(t, err)
				_, _, err = b.ListEntries("notes://own/", "", 0)
				assert.NoError(t, err)
				_, err = b.ReadEntry("notes://shared")
				if err != nil {
					assert.ErrorIs(t, err, ErrNotFound)
				}
				b.Stats()
			}
		})
	}
	wg.Wait()

	shared, err := b.ReadEntry("notes://shared")
	require.NoError(t, err)
	assert.Equal(t, int64(writers*writesEach), shared.Version, "a write was lost")
	count, _ := b.Stats()
	assert.Equal(t, writers*writesEach+1, count)
}

func TestConcurrentIfVersionAllowsOneWinner(t *testing.T) {
	b := openTestBox(t, Options{})
	write(t, b, "notes://race", "start")

	const racers = 10
	results := make(chan error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, err := b.WriteEntry(WriteRequest{URI: "notes://race", Content: fmt.Sprint(i), IfVersion: version(1)})
			results <- err
		})
	}
	wg.Wait()
	close(results)

	wins := 0
	for err := range results {
		if err == nil {
			wins++
			continue
		}
		assert.ErrorIs(t, err, ErrVersionConflict)
	}
	assert.Equal(t, 1, wins)
}

func TestConcurrentMixedOperations(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				_, _, err := b.SendSignal("t", fmt.Sprintf("%d-%d", w, i), time.Millisecond)
				assert.NoError(t, err)
				clock.Advance(time.Millisecond)
				_, _, err = b.PutBlob([]byte(fmt.Sprint(i)), "text/plain")
				assert.NoError(t, err)
				assert.NoError(t, b.Remember(fmt.Sprintf("k%d", w), fmt.Sprint(i)))
				_, err = b.ListSignals("", time.Time{})
				assert.NoError(t, err)
				_, err = b.Recall("", "")
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()

	memory, err := b.Recall("", "")
	require.NoError(t, err)
	assert.Len(t, memory, 4)
	_, blobBytes := b.Stats()
	assert.Equal(t, int64(10), blobBytes, "ten distinct one-byte blobs")
}

func TestErrorHelpers(t *testing.T) {
	err := fmt.Errorf("tool call: %w", notFoundError("notes://x"))
	assert.Equal(t, CodeNotFound, ErrorCode(err))
	assert.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrVersionConflict)
	assert.Empty(t, ErrorCode(os.ErrNotExist))
	assert.Empty(t, ErrorCode(nil))
}
