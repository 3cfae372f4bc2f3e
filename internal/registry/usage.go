package registry

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/store"
)

// Coalescing of last_used_at. TouchConnection only records a use in
// memory. The flusher checks every UsagePollInterval and writes the
// recorded uses to shares.json, and to grants.json for connections with a
// grant, at most once per UsageWriteInterval of registry time.
const (
	UsageWriteInterval = time.Minute
	UsagePollInterval  = 5 * time.Second
)

// usageTracker holds the uses that are not written yet.
type usageTracker struct {
	mu        sync.Mutex
	pending   map[string]time.Time // connection id → newest use not yet written
	lastWrite time.Time            // registry time of the last write

	// flushMu serializes flushes, so a shutdown flush cannot interleave
	// with the flusher's.
	flushMu sync.Mutex

	loopMu sync.Mutex
	stop   chan struct{}
	done   chan struct{}
}

func newUsageTracker() usageTracker {
	return usageTracker{pending: map[string]time.Time{}}
}

// TouchConnection records that a connection was used now. It never writes
// to disk, so the MCP layer may call it on every request.
func (r *Registry) TouchConnection(connectionID string) {
	now := r.Now()
	u := &r.ops().usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if prev, ok := u.pending[connectionID]; !ok || now.After(prev) {
		u.pending[connectionID] = now
	}
}

// FlushUsage writes every recorded use now, without waiting for
// UsageWriteInterval. The daemon calls it at shutdown.
func (r *Registry) FlushUsage() error {
	return r.flushUsage(true)
}

// StartUsageFlusher starts the goroutine that writes recorded uses, waking
// up every pollInterval. A second call while it runs does nothing.
func (r *Registry) StartUsageFlusher(pollInterval time.Duration) {
	u := &r.ops().usage
	u.loopMu.Lock()
	defer u.loopMu.Unlock()
	if u.stop != nil {
		return
	}
	u.stop, u.done = make(chan struct{}), make(chan struct{})

	go func(stop <-chan struct{}, done chan<- struct{}) {
		defer close(done)
		ticker := time.NewTicker(pollInterval)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
			if err := r.flushUsage(false); err != nil {
				r.Logger.Error("cannot write last_used_at of connections; retrying on the next tick", "error", err)
			}
		}
	}(u.stop, u.done)
}

// StopUsageFlusher stops the flusher and writes the remaining uses.
func (r *Registry) StopUsageFlusher() error {
	u := &r.ops().usage
	u.loopMu.Lock()
	if u.stop != nil {
		close(u.stop)
		<-u.done
		u.stop, u.done = nil, nil
	}
	u.loopMu.Unlock()
	return r.FlushUsage()
}

// flushUsage writes the pending uses when force is set or when
// UsageWriteInterval has passed since the last write. Uses that fail to
// be written stay pending for the next flush.
func (r *Registry) flushUsage(force bool) error {
	u := &r.ops().usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()

	now := r.Now()
	u.mu.Lock()
	if len(u.pending) == 0 || (!force && !u.lastWrite.IsZero() && now.Sub(u.lastWrite) < UsageWriteInterval) {
		u.mu.Unlock()
		return nil
	}
	due := u.pending
	u.pending = map[string]time.Time{}
	u.mu.Unlock()

	err := r.writeUsage(due)

	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		for id, used := range due {
			if newer, ok := u.pending[id]; !ok || used.After(newer) {
				u.pending[id] = used
			}
		}
		return err
	}
	u.lastWrite = now
	return nil
}

// pendingTimes returns a copy of the uses not written yet.
func (u *usageTracker) pendingTimes() map[string]time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	times := make(map[string]time.Time, len(u.pending))
	for id, used := range u.pending {
		times[id] = used
	}
	return times
}

// writeUsage sets last_used_at of the shares in uses and of their grants.
// It only updates records that exist, so a use recorded just before a
// connection was removed does not bring it back.
func (r *Registry) writeUsage(uses map[string]time.Time) error {
	grantUses := map[string]time.Time{}
	err := r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		changed := false
		for i := range doc.Shares {
			sh := &doc.Shares[i]
			used, ok := uses[sh.ConnectionID]
			if !ok {
				continue
			}
			if sh.GrantID != nil {
				if newer, ok := grantUses[*sh.GrantID]; !ok || used.After(newer) {
					grantUses[*sh.GrantID] = used
				}
			}
			if sh.LastUsedAt == nil || used.After(*sh.LastUsedAt) {
				sh.LastUsedAt = &used
				changed = true
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("write last_used_at to %s: %w", store.SharesFile, err)
	}
	if len(grantUses) == 0 {
		return nil
	}

	err = r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		changed := false
		for i := range doc.Grants {
			g := &doc.Grants[i]
			used, ok := grantUses[g.ID]
			if ok && (g.LastUsedAt == nil || used.After(*g.LastUsedAt)) {
				g.LastUsedAt = &used
				changed = true
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("write last_used_at to %s: %w", store.GrantsFile, err)
	}
	return nil
}
