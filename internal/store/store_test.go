package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/version"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, Initialize(dir))
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	return s
}

func TestInitializeWritesPrivateLayout(t *testing.T) {
	s := newStore(t)

	meta, err := ReadMeta(s.Dir)
	require.NoError(t, err)
	assert.Equal(t, version.Schema, meta.Schema)
	assert.Equal(t, version.Version, meta.Version)
	for _, name := range append([]string{MetaFile}, IndexFiles...) {
		info, err := os.Stat(filepath.Join(s.Dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)
	}
	for _, name := range []string{BoxesDir, AuditDir} {
		info, err := os.Stat(filepath.Join(s.Dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), name)
	}
	assert.Equal(t, DefaultPolicy(), *s.Policy.Get())
}

func TestUpdateIsDurableAndVisible(t *testing.T) {
	s := newStore(t)
	id := ids.New(ids.Capsule)

	err := s.Capsules.Update(func(doc *CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, Capsule{ID: id, Name: "notes", CreatedAt: time.Now().UTC()})
		return nil
	})
	require.NoError(t, err)
	require.Len(t, s.Capsules.Get().Capsules, 1)

	reopened, err := Open(s.Dir, Options{})
	require.NoError(t, err)
	require.Len(t, reopened.Capsules.Get().Capsules, 1)
	assert.Equal(t, id, reopened.Capsules.Get().Capsules[0].ID)
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	s := newStore(t)
	before, err := os.ReadFile(filepath.Join(s.Dir, CapsulesFile))
	require.NoError(t, err)

	refused := errors.New("refused")
	err = s.Capsules.Update(func(doc *CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, Capsule{ID: ids.New(ids.Capsule)})
		return refused
	})
	assert.ErrorIs(t, err, refused)
	assert.Empty(t, s.Capsules.Get().Capsules)
	after, err := os.ReadFile(filepath.Join(s.Dir, CapsulesFile))
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestSnapshotIsNotChangedByUpdate(t *testing.T) {
	s := newStore(t)
	snapshot := s.Capsules.Get()

	require.NoError(t, s.Capsules.Update(func(doc *CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, Capsule{ID: ids.New(ids.Capsule)})
		return nil
	}))
	assert.Empty(t, snapshot.Capsules)
	assert.Len(t, s.Capsules.Get().Capsules, 1)
}

func TestConcurrentUpdatesAreSerialized(t *testing.T) {
	s := newStore(t)
	const writers = 20

	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Capsules.Update(func(doc *CapsulesDoc) error {
				doc.Capsules = append(doc.Capsules, Capsule{ID: ids.New(ids.Capsule)})
				return nil
			}))
			assert.NoError(t, s.Shares.Update(func(doc *SharesDoc) error { return nil }))
		}()
	}
	wg.Wait()

	assert.Len(t, s.Capsules.Get().Capsules, writers)
	reopened, err := Open(s.Dir, Options{})
	require.NoError(t, err)
	assert.Len(t, reopened.Capsules.Get().Capsules, writers)
}

func TestFreezeBlocksWriters(t *testing.T) {
	s := newStore(t)
	thaw := s.Freeze()

	done := make(chan struct{})
	go func() {
		_ = s.Capsules.Update(func(doc *CapsulesDoc) error { return nil })
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Update finished while the store was frozen")
	case <-time.After(50 * time.Millisecond):
	}
	thaw()
	<-done
}

func TestCheckNamesCorruptFile(t *testing.T) {
	cases := map[string]string{
		"truncated":   `{"capsules": [`,
		"not object":  `[1, 2]`,
		"null":        `null`,
		"binary junk": "\x00\x01\x02",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			require.NoError(t, os.WriteFile(filepath.Join(s.Dir, CapsulesFile), []byte(content), 0o600))

			_, _, err := Check(s.Dir)
			var corrupt *CorruptError
			require.ErrorAs(t, err, &corrupt)
			assert.Equal(t, CapsulesFile, corrupt.File)
		})
	}
}

func TestOpenRejectsInvalidCapsuleID(t *testing.T) {
	s := newStore(t)
	doc := `{"capsules": [{"id": "../../etc", "name": "x"}]}`
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, CapsulesFile), []byte(doc), 0o600))

	_, err := Open(s.Dir, Options{})
	var corrupt *CorruptError
	require.ErrorAs(t, err, &corrupt)
	assert.Equal(t, CapsulesFile, corrupt.File)
	assert.Contains(t, corrupt.Error(), "../../etc")
}

func TestCheckRejectsNewerSchema(t *testing.T) {
	s := newStore(t)
	require.NoError(t, WriteMeta(s.Dir, Meta{Version: "9.0.0", Schema: version.Schema + 1}))

	_, _, err := Check(s.Dir)
	var tooNew *SchemaTooNewError
	require.ErrorAs(t, err, &tooNew)
	assert.Equal(t, version.Schema+1, tooNew.Found.Schema)
}

func TestCheckReportsFreshDirectory(t *testing.T) {
	fresh, _, err := Check(t.TempDir())
	require.NoError(t, err)
	assert.True(t, fresh)
}

func TestCheckRejectsIndexWithoutMeta(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, CapsulesFile), []byte(`{"capsules":[]}`), 0o600))

	_, _, err := Check(dir)
	var corrupt *CorruptError
	require.ErrorAs(t, err, &corrupt)
	assert.Equal(t, MetaFile, corrupt.File)
}

func TestBoxDirPanicsOnInvalidID(t *testing.T) {
	s := newStore(t)
	assert.Panics(t, func() { s.BoxDir("../escape") })
	assert.Equal(t, filepath.Join(s.Dir, "boxes", "cap_01hq3z9x8k7m6n5p4r3s2t1v0w", ".capsol"),
		s.BoxDir("cap_01hq3z9x8k7m6n5p4r3s2t1v0w"))
}

func TestRemoveStaleTemps(t *testing.T) {
	s := newStore(t)
	stale := filepath.Join(s.Dir, ".capsules.json123456")
	require.NoError(t, os.WriteFile(stale, []byte("{"), 0o600))
	unrelated := filepath.Join(s.Dir, "notes.txt")
	require.NoError(t, os.WriteFile(unrelated, []byte("keep"), 0o600))

	removed, err := RemoveStaleTemps(s.Dir)
	require.NoError(t, err)
	assert.Equal(t, []string{".capsules.json123456"}, removed)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, unrelated)
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	lock, err := AcquireLock(dir)
	require.NoError(t, err)
	require.NoError(t, lock.SetURL("http://127.0.0.1:4000"))

	_, err = AcquireLock(dir)
	var locked *LockedError
	require.ErrorAs(t, err, &locked)
	assert.Equal(t, os.Getpid(), locked.Holder.PID)

	info, held, err := ReadLock(dir)
	require.NoError(t, err)
	assert.True(t, held)
	assert.Equal(t, "http://127.0.0.1:4000", info.URL)
	assert.Equal(t, version.Version, info.Version)

	var raw map[string]any
	data, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &raw))
	for _, key := range []string{"pid", "url", "version", "started_at"} {
		assert.Contains(t, raw, key)
	}

	require.NoError(t, lock.Release())
	_, held, err = ReadLock(dir)
	require.NoError(t, err)
	assert.False(t, held)
	again, err := AcquireLock(dir)
	require.NoError(t, err)
	require.NoError(t, again.Release())
}

func TestReadLockWithoutFile(t *testing.T) {
	_, held, err := ReadLock(t.TempDir())
	require.NoError(t, err)
	assert.False(t, held)
}

func ExampleIndex_Update() {
	dir, _ := os.MkdirTemp("", "capsol-example")
	defer os.RemoveAll(dir)
	_ = Initialize(dir)
	s, _ := Open(dir, Options{})

	_ = s.Policy.Update(func(p *Policy) error {
		p.SignalTTLSeconds = 3600
		return nil
	})
	fmt.Println(s.Policy.Get().SignalTTLSeconds)
	// Output: 3600
}
