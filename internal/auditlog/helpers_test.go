package auditlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// day returns noon UTC of a YYYY-MM-DD day.
func day(t *testing.T, date string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, date)
	require.NoError(t, err)
	return d.Add(12 * time.Hour)
}

// openLog opens dir with clock and closes the log when the test ends.
func openLog(t *testing.T, dir string, clock *fakeClock) *auditlog.Log {
	t.Helper()
	l, err := auditlog.Open(dir, auditlog.Options{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// writeDays appends perDay records on each of days: the i-th of a day is
// capsuleRecord(i), written i minutes after noon.
func writeDays(t *testing.T, dir string, days []string, perDay int) {
	t.Helper()
	clock := newClock(day(t, days[0]))
	l, err := auditlog.Open(dir, auditlog.Options{Now: clock.Now})
	require.NoError(t, err)
	for _, date := range days {
		for i := 1; i <= perDay; i++ {
			clock.Set(day(t, date).Add(time.Duration(i) * time.Minute))
			require.NoError(t, l.Append(capsuleRecord(i)))
		}
	}
	require.NoError(t, l.Close())
}

// capsuleRecord returns a record of connection con_odd or con_even by the
// parity of i, with i as its duration.
func capsuleRecord(i int) auditlog.CapsuleRecord {
	connection := "con_even"
	if i%2 == 1 {
		connection = "con_odd"
	}
	return auditlog.CapsuleRecord{
		ConnectionID: connection,
		PrincipalID:  "prn_1",
		Kind:         "share",
		Method:       "tools/call",
		Tool:         "read_entry",
		URI:          "notes://a/b",
		Outcome:      auditlog.OutcomeOK,
		DurationMS:   int64(i),
		RemoteAddr:   "192.0.2.1:5000",
	}
}

// fileLines returns the lines of a file without their newlines.
func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(data, []byte("\n")), "%s must end with a newline", path)
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func sha(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// field returns a top-level string field of a JSON line.
func field(t *testing.T, line []byte, name string) string {
	t.Helper()
	var fields map[string]any
	require.NoError(t, json.Unmarshal(line, &fields), "line %s", line)
	value, _ := fields[name].(string)
	return value
}

func dayPath(dir, date string) string {
	return filepath.Join(dir, date+".jsonl")
}

func verifyOK(t *testing.T, dir string) auditlog.Report {
	t.Helper()
	report, err := auditlog.Verify(dir)
	require.NoError(t, err)
	require.Nil(t, report.Break, "chain must not break")
	require.True(t, report.OK)
	return report
}
