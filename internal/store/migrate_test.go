package store

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/version"
)

var fixtures = []struct {
	name   string
	schema int
}{
	{"v0.15", 1},
	{"v0.16", 2},
	{"v0.19", 3},
}

// copyFixture copies a fixture data directory into a fresh temp dir.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", name)
	dst := filepath.Join(t.TempDir(), "registry-data")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	require.NoError(t, err)
	return dst
}

// snapshotFiles returns the bytes of every file under dir by relative path.
func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel], err = os.ReadFile(path)
		return err
	})
	require.NoError(t, err)
	return files
}

func TestFixturesMigrateAndOpen(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			dir := copyFixture(t, fx.name)
			fresh, meta, err := Check(dir)
			require.NoError(t, err)
			require.False(t, fresh)
			require.Equal(t, fx.schema, meta.Schema)

			applied, err := Migrate(dir)
			require.NoError(t, err)
			var want []int
			for s := fx.schema + 1; s <= version.Schema; s++ {
				want = append(want, s)
			}
			assert.Equal(t, want, applied)

			meta, err = ReadMeta(dir)
			require.NoError(t, err)
			assert.Equal(t, Meta{Version: version.Version, Schema: version.Schema}, meta)

			s, err := Open(dir, Options{})
			require.NoError(t, err)
			capsules := s.Capsules.Get().Capsules
			require.Len(t, capsules, 2)
			for _, sh := range s.Shares.Get().Shares {
				assert.Equal(t, KindShare, sh.Kind, sh.ConnectionID)
				assert.Nil(t, sh.ExpiresAt, "shares from before 0.16 never expire")
			}
			for _, cred := range s.Credentials.Get().Credentials {
				assert.Nil(t, cred.ExpiresAt, "credentials from before 0.16 never expire")
			}
			assert.Equal(t, 20, s.Policy.Get().MaxPendingGrantsPerCapsule)
			assert.Equal(t, 168, s.Policy.Get().AnonymousCapsuleTTLHours)
			assert.Empty(t, s.Invites.Get().Invites)
		})
	}
}

func TestMigrationKeepsOwnership(t *testing.T) {
	dir := copyFixture(t, "v0.15")
	_, err := Migrate(dir)
	require.NoError(t, err)
	s, err := Open(dir, Options{})
	require.NoError(t, err)
	for _, c := range s.Capsules.Get().Capsules {
		assert.Nil(t, c.OwnerID, "capsules from before 0.19 stay unowned")
	}

	dir = copyFixture(t, "v0.19")
	_, err = Migrate(dir)
	require.NoError(t, err)
	s, err = Open(dir, Options{})
	require.NoError(t, err)
	owner := s.Capsules.Get().Capsules[0].OwnerID
	require.NotNil(t, owner)
	assert.Equal(t, "op_01hq3ze0000000000000000001", *owner)
}

func TestMigrationTwiceIsIdentical(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			dir := copyFixture(t, fx.name)
			_, err := Migrate(dir)
			require.NoError(t, err)
			first := snapshotFiles(t, dir)

			// Pretend the migrations never ran and run all of them again on
			// their own output.
			require.NoError(t, WriteMeta(dir, Meta{Version: "0.15.0", Schema: 1}))
			_, err = Migrate(dir)
			require.NoError(t, err)
			second := snapshotFiles(t, dir)

			require.Equal(t, len(first), len(second))
			for name, data := range first {
				assert.Equal(t, string(data), string(second[name]), name)
			}
		})
	}
}

func TestMigrationKeepsUnknownFieldsAndValues(t *testing.T) {
	dir := copyFixture(t, "v0.15")
	path := filepath.Join(dir, CapsulesFile)
	doc := `{"capsules": [{"id": "cap_01hq3z9x8k7m6n5p4r3s2t1v0w", "name": "a <b> & c", "anonymous": false,
	  "created_at": "2024-03-01T10:00:00Z", "expires_at": null, "owner_id": "op_01hq3ze0000000000000000009",
	  "custom_field": {"n": 12345678901234567890}}]}`
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))

	_, err := Migrate(dir)
	require.NoError(t, err)

	var out struct {
		Capsules []map[string]json.RawMessage `json:"capsules"`
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &out))
	rec := out.Capsules[0]
	assert.JSONEq(t, `{"n": 12345678901234567890}`, string(rec["custom_field"]))
	assert.Equal(t, `"op_01hq3ze0000000000000000009"`, string(rec["owner_id"]))
	assert.Equal(t, `"a <b> & c"`, string(rec["name"]))
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	dir := copyFixture(t, "v0.15")
	// A share that is not an object cannot receive new fields.
	require.NoError(t, os.WriteFile(filepath.Join(dir, SharesFile), []byte(`{"shares": ["not a record"]}`), 0o600))
	before := snapshotFiles(t, dir)

	_, err := Migrate(dir)
	var migration *MigrationError
	require.ErrorAs(t, err, &migration)
	assert.Equal(t, 2, migration.Schema)
	assert.Contains(t, err.Error(), SharesFile)

	after := snapshotFiles(t, dir)
	assert.Equal(t, before, after)
}

func TestMigrateCurrentSchemaIsNoop(t *testing.T) {
	s := newStore(t)
	before := snapshotFiles(t, s.Dir)
	applied, err := Migrate(s.Dir)
	require.NoError(t, err)
	assert.Empty(t, applied)
	assert.Equal(t, before, snapshotFiles(t, s.Dir))
}
