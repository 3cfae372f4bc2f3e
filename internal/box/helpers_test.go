package box

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openTestBox opens a box in a fresh temporary directory laid out like the
// data directory, boxes/<capsule-id>/.capsol.
func openTestBox(t *testing.T, opts Options) *Box {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "boxes", "cap_01jc0000000000000000000000", ".capsol")
	b, err := Open(dir, opts)
	require.NoError(t, err)
	return b
}

func reopen(t *testing.T, b *Box) *Box {
	t.Helper()
	reopened, err := Open(b.Dir(), b.opts)
	require.NoError(t, err)
	return reopened
}

func version(v int64) *int64 { return &v }

func write(t *testing.T, b *Box, uri, content string, tags ...string) Entry {
	t.Helper()
	entry, err := b.WriteEntry(WriteRequest{URI: uri, Content: content, Tags: tags})
	require.NoError(t, err)
	return entry
}
