package auditlog_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
)

func TestAppendChainsAcrossDays(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(day(t, "2025-03-01"))
	l := openLog(t, dir, clock)

	// Two lines on the 1st, one on the 2nd, none on the 3rd, two on the 4th.
	plan := []struct {
		date  string
		lines int
	}{
		{"2025-03-01", 2},
		{"2025-03-02", 1},
		{"2025-03-04", 2},
	}
	for _, p := range plan {
		for i := 0; i < p.lines; i++ {
			clock.Set(day(t, p.date).Add(time.Duration(i) * time.Second))
			require.NoError(t, l.Append(capsuleRecord(i)))
		}
	}
	require.NoError(t, l.Close())

	assert.NoFileExists(t, dayPath(dir, "2025-03-03"))
	prev := auditlog.ZeroHash
	total := 0
	for _, p := range plan {
		lines := fileLines(t, dayPath(dir, p.date))
		require.Len(t, lines, p.lines, p.date)
		for i, line := range lines {
			assert.Equal(t, prev, field(t, line, "prev"), "%s line %d", p.date, i+1)
			assert.Equal(t, p.date, field(t, line, "ts")[:10], "%s line %d", p.date, i+1)
			prev = sha(line)
			total++
		}
	}

	report := verifyOK(t, dir)
	assert.Equal(t, 3, report.Files)
	assert.Equal(t, total, report.Lines)
	assert.Equal(t, auditlog.ZeroHash, report.Start)
	assert.Equal(t, prev, report.Head)
}

func TestAppendLineFormat(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(time.Date(2025, 3, 1, 10, 20, 30, 123456789, time.UTC))
	l := openLog(t, dir, clock)

	require.NoError(t, l.Append(auditlog.CapsuleRecord{
		ConnectionID: "con_1",
		Tool:         "read_entry",
		URI:          "notes://a?b&c<d>",
		Outcome:      auditlog.OutcomeDenied,
		ErrorCode:    "forbidden",
		DurationMS:   7,
	}))
	require.NoError(t, l.Close())

	lines := fileLines(t, dayPath(dir, "2025-03-01"))
	require.Len(t, lines, 1)
	want := `{"ts":"2025-03-01T10:20:30.123Z","connection_id":"con_1","principal_id":"","kind":"",` +
		`"method":"","tool":"read_entry","uri":"notes://a?b&c<d>","outcome":"denied",` +
		`"error_code":"forbidden","duration_ms":7,"remote_addr":"","prev":"` + auditlog.ZeroHash + `"}`
	assert.Equal(t, want, string(lines[0]))
}

func TestAppendTimestamp(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	paris := time.FixedZone("UTC+1", 3600)

	tests := []struct {
		name   string
		record any
		wantTS string
	}{
		{"map without ts", map[string]any{"action": "x"}, "2025-03-01T10:00:00.000Z"},
		{"map with null ts", map[string]any{"ts": nil}, "2025-03-01T10:00:00.000Z"},
		{"string ts kept", map[string]any{"ts": "2025-02-28T23:59:59.5Z"}, "2025-02-28T23:59:59.500Z"},
		{"time ts to UTC", map[string]any{"ts": time.Date(2025, 3, 1, 1, 30, 0, 0, paris)}, "2025-03-01T00:30:00.000Z"},
		{"struct zero ts", auditlog.RegistryRecord{Action: "x"}, "2025-03-01T10:00:00.000Z"},
		{"struct ts", auditlog.RegistryRecord{Action: "x", TS: now.Add(time.Millisecond)}, "2025-03-01T10:00:00.001Z"},
		{"pointer to struct", &auditlog.RegistryRecord{Action: "x"}, "2025-03-01T10:00:00.000Z"},
		{"raw JSON", json.RawMessage(`{"a": [1, {"ts": "nested"}], "b": "}"}`), "2025-03-01T10:00:00.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, newClock(now))
			require.NoError(t, l.Append(tt.record))
			require.NoError(t, l.Close())

			lines, err := auditlog.Read(dir, auditlog.Filter{})
			require.NoError(t, err)
			require.Len(t, lines, 1)
			assert.Equal(t, tt.wantTS, field(t, lines[0], "ts"))
			assert.Equal(t, auditlog.ZeroHash, field(t, lines[0], "prev"))
		})
	}
}

func TestAppendRawJSONKeepsMembers(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, newClock(day(t, "2025-03-01")))

	require.NoError(t, l.Append(json.RawMessage(`{"a": [1, {"ts": "nested"}], "b": "}\"", "c": {}}`)))
	require.NoError(t, l.Close())

	lines := fileLines(t, dayPath(dir, "2025-03-01"))
	require.Len(t, lines, 1)
	want := `{"ts":"2025-03-01T12:00:00.000Z","a":[1,{"ts":"nested"}],"b":"}\"","c":{},"prev":"` + auditlog.ZeroHash + `"}`
	assert.Equal(t, want, string(lines[0]))
}

func TestAppendRejectsInvalidRecords(t *testing.T) {
	tests := []struct {
		name    string
		record  any
		wantErr string
	}{
		{"prev set", map[string]any{"prev": "x"}, `must not contain "prev"`},
		{"escaped prev key", json.RawMessage(`{"\u0070rev":"x"}`), `must not contain "prev"`},
		{"escaped ts key", json.RawMessage(`{"t\u0073":"now"}`), `invalid "ts" "now"`},
		{"bad ts", map[string]any{"ts": "yesterday"}, `invalid "ts" "yesterday"`},
		{"numeric ts", map[string]any{"ts": 5}, `invalid "ts" 5`},
		{"array", []int{1}, "must encode to a JSON object"},
		{"string", "hello", "must encode to a JSON object"},
		{"nil map", map[string]any(nil), "must encode to a JSON object"},
		{"unencodable", map[string]any{"f": func() {}}, "encode audit record"},
		{"future ts", map[string]any{"ts": "2025-03-01T13:00:00.001Z"}, "more than 1h0m0s after the current time 2025-03-01T12:00:00.000Z"},
		{"bad outcome", auditlog.CapsuleRecord{Outcome: "fine"}, `invalid capsule audit outcome "fine"`},
		{"no action", auditlog.RegistryRecord{Actor: "op_1"}, "no action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, newClock(day(t, "2025-03-01")))

			err := l.Append(tt.record)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)

			require.NoError(t, l.Close())
			assert.NoFileExists(t, dayPath(dir, "2025-03-01"))
		})
	}
}

func TestAppendConcurrent(t *testing.T) {
	dir := t.TempDir()
	l, err := auditlog.Open(dir, auditlog.Options{SyncInterval: time.Millisecond})
	require.NoError(t, err)

	const goroutines = 100
	const perGoroutine = 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				record := capsuleRecord(i)
				record.ConnectionID = fmt.Sprintf("con_%d", g)
				errs <- l.Append(record)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())

	report := verifyOK(t, dir)
	assert.Equal(t, goroutines*perGoroutine, report.Lines)
}

func TestAppendEarlierDayGoesToNewestFile(t *testing.T) {
	dir := t.TempDir()
	clock := newClock(day(t, "2025-03-02"))
	l := openLog(t, dir, clock)
	require.NoError(t, l.Append(capsuleRecord(1)))

	// The clock steps back a day, and a caller passes an old ts.
	clock.Set(day(t, "2025-03-01"))
	require.NoError(t, l.Append(capsuleRecord(2)))
	old := capsuleRecord(3)
	old.TS = day(t, "2025-02-01")
	require.NoError(t, l.Append(old))
	require.NoError(t, l.Close())

	assert.NoFileExists(t, dayPath(dir, "2025-03-01"))
	assert.NoFileExists(t, dayPath(dir, "2025-02-01"))
	lines := fileLines(t, dayPath(dir, "2025-03-02"))
	require.Len(t, lines, 3)
	assert.Equal(t, "2025-02-01T12:00:00.000Z", field(t, lines[2], "ts"))
	verifyOK(t, dir)
}

func TestOpenContinuesChain(t *testing.T) {
	tests := []struct {
		name       string
		reopenDate string
	}{
		{"same day", "2025-03-01"},
		{"next day", "2025-03-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDays(t, dir, []string{"2025-03-01"}, 3)
			lastBefore := fileLines(t, dayPath(dir, "2025-03-01"))[2]

			l := openLog(t, dir, newClock(day(t, tt.reopenDate).Add(time.Hour)))
			require.NoError(t, l.Append(capsuleRecord(4)))
			require.NoError(t, l.Close())

			lines := fileLines(t, dayPath(dir, tt.reopenDate))
			assert.Equal(t, sha(lastBefore), field(t, lines[len(lines)-1], "prev"))
			report := verifyOK(t, dir)
			assert.Equal(t, 4, report.Lines)
		})
	}
}

func TestOpenSkipsEmptyNewestFile(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01"}, 2)
	last := fileLines(t, dayPath(dir, "2025-03-01"))[1]
	require.NoError(t, os.WriteFile(dayPath(dir, "2025-03-02"), nil, 0o600))

	l := openLog(t, dir, newClock(day(t, "2025-03-03")))
	require.NoError(t, l.Append(capsuleRecord(3)))
	require.NoError(t, l.Close())

	lines := fileLines(t, dayPath(dir, "2025-03-03"))
	assert.Equal(t, sha(last), field(t, lines[0], "prev"))
	verifyOK(t, dir)
}

func TestOpenEndsPartialLine(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, []string{"2025-03-01"}, 2)
	path := dayPath(dir, "2025-03-01")
	partial := []byte(`{"ts":"2025-03-01T13:00:00.000Z","connec`)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(partial)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	var reported []error
	clock := newClock(day(t, "2025-03-01").Add(2 * time.Hour))
	l, err := auditlog.Open(dir, auditlog.Options{
		Now:     clock.Now,
		OnError: func(err error) { reported = append(reported, err) },
	})
	require.NoError(t, err)
	require.NoError(t, l.Append(capsuleRecord(3)))
	require.NoError(t, l.Close())

	require.Len(t, reported, 1)
	assert.Contains(t, reported[0].Error(), "2025-03-01.jsonl ended in a partial line")

	lines := fileLines(t, path)
	require.Len(t, lines, 4)
	assert.Equal(t, partial, lines[2])
	assert.Equal(t, sha(partial), field(t, lines[3], "prev"))

	report, err := auditlog.Verify(dir)
	require.NoError(t, err)
	assert.False(t, report.OK)
	require.NotNil(t, report.Break)
	assert.Equal(t, "2025-03-01.jsonl", report.Break.File)
	assert.Equal(t, 3, report.Break.Line)
	assert.Contains(t, report.Break.Reason, "invalid JSON")
}

func TestOpenRejectsNegativeSyncInterval(t *testing.T) {
	_, err := auditlog.Open(t.TempDir(), auditlog.Options{SyncInterval: -time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "-1s")
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "boxes", "cap_1", ".capsol", "logs")
	writeDays(t, dir, []string{"2025-03-01"}, 1)

	dirInfo, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dirInfo.Mode().Perm())
	fileInfo, err := os.Stat(dayPath(dir, "2025-03-01"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fileInfo.Mode().Perm())
}

func TestCloseThenAppendFails(t *testing.T) {
	l := openLog(t, t.TempDir(), newClock(day(t, "2025-03-01")))
	require.NoError(t, l.Append(capsuleRecord(1)))
	require.NoError(t, l.Sync())
	require.NoError(t, l.Close())

	assert.NoError(t, l.Close(), "second Close")
	assert.ErrorIs(t, l.Append(capsuleRecord(2)), auditlog.ErrClosed)
	assert.ErrorIs(t, l.Sync(), auditlog.ErrClosed)
}

// BenchmarkAppend measures appends of one capsule record from one
// goroutine and from GOMAXPROCS goroutines, reported as appends/s.
func BenchmarkAppend(b *testing.B) {
	record := capsuleRecord(1)
	record.ConnectionID = "con_01j9z3k4m5n6p7q8r9s0t1v2w3"
	record.PrincipalID = "prn_01j9z3k4m5n6p7q8r9s0t1v2w3"

	b.Run("serial", func(b *testing.B) {
		l, err := auditlog.Open(b.TempDir(), auditlog.Options{})
		require.NoError(b, err)
		defer l.Close()

		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := l.Append(record); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})

	b.Run("parallel", func(b *testing.B) {
		l, err := auditlog.Open(b.TempDir(), auditlog.Options{})
		require.NoError(b, err)
		defer l.Close()

		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Append(record); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}
