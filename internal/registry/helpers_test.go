package registry

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/store"
)

// fakeClock is a settable clock for Registry.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
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

// writeCounter counts the durable writes of each index file.
type writeCounter struct {
	mu     sync.Mutex
	writes map[string]int
}

func (w *writeCounter) observe(file string, _ time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[file]++
}

func (w *writeCounter) count(file string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes[file]
}

// testRegistry is a registry on a fresh data directory with a fake clock
// and counted index writes.
type testRegistry struct {
	*Registry
	clock  *fakeClock
	writes *writeCounter
}

func newTestRegistry(t *testing.T) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, store.Initialize(dir))
	writes := &writeCounter{writes: map[string]int{}}
	st, err := store.Open(dir, store.Options{ObserveWrite: writes.observe})
	require.NoError(t, err)

	r := New(st, slog.New(slog.DiscardHandler), metrics.New(), "http://registry.test")
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.Clock = clock.Now
	t.Cleanup(func() {
		require.NoError(t, r.StopUsageFlusher())
		require.NoError(t, r.CloseRegistryAudit())
		require.NoError(t, r.Close())
	})
	return &testRegistry{Registry: r, clock: clock, writes: writes}
}

// requireCode checks that err is a *Error with code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	var rejected *Error
	require.ErrorAs(t, err, &rejected)
	require.Equal(t, code, rejected.Code, "message: %s", rejected.Message)
}

func (tr *testRegistry) share(t *testing.T, connectionID string) store.Share {
	t.Helper()
	for _, sh := range tr.Store.Shares.Get().Shares {
		if sh.ConnectionID == connectionID {
			return sh
		}
	}
	t.Fatalf("share %s not in shares.json", connectionID)
	return store.Share{}
}
