package daemon

import (
	"context"
	"time"

	"github.com/capsol/capsol/internal/janitor"
)

// janitorTasks lists the housekeeping of the index files.
func (d *Daemon) janitorTasks() []janitor.Task {
	return []janitor.Task{
		{Name: "expired_sessions", Run: withoutContext(d.Registry.PruneSessions)},
		{Name: "spent_invites", Run: withoutContext(d.Registry.PruneInvites)},
		{Name: "expired_anonymous_capsules", Run: withoutContext(d.Registry.ExpireAnonymousCapsules)},
		{Name: "stale_credentials", Run: withoutContext(d.Registry.PruneCredentials)},
		{Name: "spent_enrollments", Run: withoutContext(d.Registry.PruneEnrollments)},
		{Name: "grant_policy", Run: withoutContext(d.Registry.ApplyGrantPolicy)},
	}
}

// withoutContext adapts a registry janitor operation, which finishes each
// run it starts, to a janitor task.
func withoutContext(run func(now time.Time) (int, error)) func(context.Context, time.Time) (int, error) {
	return func(_ context.Context, now time.Time) (int, error) { return run(now) }
}
