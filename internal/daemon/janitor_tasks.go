package daemon

import (
	"context"
	"time"

	"github.com/capsol/capsol/internal/janitor"
	"github.com/capsol/capsol/internal/store"
)

// janitorTasks lists the housekeeping of the index files.
func (d *Daemon) janitorTasks() []janitor.Task {
	return []janitor.Task{
		{Name: "expired_sessions", Run: d.pruneExpiredSessions},
		{Name: "expired_anonymous_capsules", Run: withoutContext(d.Registry.ExpireAnonymousCapsules)},
		{Name: "stale_credentials", Run: withoutContext(d.Registry.PruneCredentials)},
		{Name: "spent_enrollments", Run: withoutContext(d.Registry.PruneEnrollments)},
		{Name: "grant_policy", Run: withoutContext(d.Registry.ApplyGrantPolicy)},
	}
}

func (d *Daemon) pruneExpiredSessions(_ context.Context, now time.Time) (int, error) {
	removed := 0
	sessions := d.Store.Sessions.Get().Sessions
	for _, s := range sessions {
		if !s.ExpiresAt.IsZero() && now.After(s.ExpiresAt) {
			removed++
		}
	}
	if removed == 0 {
		return 0, nil
	}
	err := d.Store.Sessions.Update(func(doc *store.SessionsDoc) error {
		kept := doc.Sessions[:0]
		for _, s := range doc.Sessions {
			if s.ExpiresAt.IsZero() || !now.After(s.ExpiresAt) {
				kept = append(kept, s)
			}
		}
		doc.Sessions = kept
		return nil
	})
	return removed, err
}

// withoutContext adapts a registry janitor operation, which finishes each
// run it starts, to a janitor task.
func withoutContext(run func(now time.Time) (int, error)) func(context.Context, time.Time) (int, error) {
	return func(_ context.Context, now time.Time) (int, error) { return run(now) }
}
