package auditlog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
)

// readID names an entry written by writeDays as its day and index.
type readID struct {
	Date  string
	Index int64
}

func entryIDs(t *testing.T, entries []json.RawMessage) []readID {
	t.Helper()
	ids := []readID{}
	for _, entry := range entries {
		var fields struct {
			TS         string `json:"ts"`
			DurationMS int64  `json:"duration_ms"`
		}
		require.NoError(t, json.Unmarshal(entry, &fields))
		ids = append(ids, readID{fields.TS[:10], fields.DurationMS})
	}
	return ids
}

func TestReadFilters(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01", "2025-03-02", "2025-03-04"}, 4)

	tests := []struct {
		name   string
		filter auditlog.Filter
		want   []readID
	}{
		{
			name:   "date",
			filter: auditlog.Filter{Date: "2025-03-02"},
			want:   []readID{{"2025-03-02", 1}, {"2025-03-02", 2}, {"2025-03-02", 3}, {"2025-03-02", 4}},
		},
		{
			name:   "date without file",
			filter: auditlog.Filter{Date: "2025-03-03"},
			want:   []readID{},
		},
		{
			name:   "limit keeps newest",
			filter: auditlog.Filter{Limit: 6},
			want: []readID{
				{"2025-03-02", 3}, {"2025-03-02", 4},
				{"2025-03-04", 1}, {"2025-03-04", 2}, {"2025-03-04", 3}, {"2025-03-04", 4},
			},
		},
		{
			name:   "limit above count",
			filter: auditlog.Filter{Date: "2025-03-01", Limit: 100},
			want:   []readID{{"2025-03-01", 1}, {"2025-03-01", 2}, {"2025-03-01", 3}, {"2025-03-01", 4}},
		},
		{
			name:   "since",
			filter: auditlog.Filter{Since: time.Date(2025, 3, 2, 12, 3, 0, 0, time.UTC)},
			want: []readID{
				{"2025-03-02", 3}, {"2025-03-02", 4},
				{"2025-03-04", 1}, {"2025-03-04", 2}, {"2025-03-04", 3}, {"2025-03-04", 4},
			},
		},
		{
			name:   "since in another zone",
			filter: auditlog.Filter{Since: time.Date(2025, 3, 4, 14, 3, 0, 0, time.FixedZone("UTC+2", 7200))},
			want:   []readID{{"2025-03-04", 3}, {"2025-03-04", 4}},
		},
		{
			name:   "connection",
			filter: auditlog.Filter{ConnectionID: "con_even", Date: "2025-03-01"},
			want:   []readID{{"2025-03-01", 2}, {"2025-03-01", 4}},
		},
		{
			name:   "connection since limit",
			filter: auditlog.Filter{ConnectionID: "con_odd", Since: day(t, "2025-03-02"), Limit: 3},
			want:   []readID{{"2025-03-02", 3}, {"2025-03-04", 1}, {"2025-03-04", 3}},
		},
		{
			name:   "unknown connection",
			filter: auditlog.Filter{ConnectionID: "con_none"},
			want:   []readID{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := auditlog.Read(dir, tt.filter)
			require.NoError(t, err)
			assert.Equal(t, tt.want, entryIDs(t, entries))
		})
	}
}

func TestReadActor(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(day(t, "2025-03-01"))
	l := openLog(t, dir, clock)
	for _, actor := range []string{"op_1", "admin-key", "op_1"} {
		clock.Set(clock.Now().Add(time.Minute))
		require.NoError(t, l.Append(auditlog.RegistryRecord{Actor: actor, Action: auditlog.ActionBreakGlass}))
	}
	require.NoError(t, l.Close())

	entries, err := auditlog.Read(dir, auditlog.Filter{Actor: "op_1"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, entry := range entries {
		assert.Equal(t, "op_1", field(t, entry, "actor"))
		assert.Equal(t, "break-glass", field(t, entry, "action"))
	}
}

func TestReadReturnsStoredLines(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01"}, 2)

	entries, err := auditlog.Read(dir, auditlog.Filter{})
	require.NoError(t, err)
	lines := fileLines(t, dayPath(dir, "2025-03-01"))
	require.Len(t, entries, 2)
	assert.Equal(t, lines[0], []byte(entries[0]))
	assert.Equal(t, lines[1], []byte(entries[1]))
}

func TestReadSkipsInvalidLines(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01"}, 2)
	path := dayPath(dir, "2025-03-01")
	lines := fileLines(t, path)
	lines = append(lines[:1], append([][]byte{[]byte("not json"), []byte(`[1]`), {}}, lines[1:]...)...)
	writeLines(t, path, lines)

	entries, err := auditlog.Read(dir, auditlog.Filter{})
	require.NoError(t, err)
	assert.Equal(t, []readID{{"2025-03-01", 1}, {"2025-03-01", 2}}, entryIDs(t, entries))
}

func TestReadMissingDirectory(t *testing.T) {
	entries, err := auditlog.Read(filepath.Join(t.TempDir(), "missing"), auditlog.Filter{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestReadRejectsInvalidFilter(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01"}, 1)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), "secret.jsonl"), []byte("{}\n"), 0o600))

	badDates := []string{
		"2025-3-1",
		"2025-13-01",
		"2025-02-30",
		"20250301",
		"2025-03-01.jsonl",
		"2025-03-01T00:00:00Z",
		"../secret",
		"../../x/2025-03-01",
		"2025/03/01",
		"２０２５-03-01",
		" 2025-03-01",
	}
	for _, date := range badDates {
		t.Run(date, func(t *testing.T) {
			entries, err := auditlog.Read(dir, auditlog.Filter{Date: date})
			require.Error(t, err)
			assert.ErrorIs(t, err, auditlog.ErrInvalidDate)
			assert.Contains(t, err.Error(), date)
			assert.Contains(t, err.Error(), "YYYY-MM-DD")
			assert.Nil(t, entries)
		})
	}

	t.Run("negative limit", func(t *testing.T) {
		_, err := auditlog.Read(dir, auditlog.Filter{Limit: -1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-1")
	})
}
