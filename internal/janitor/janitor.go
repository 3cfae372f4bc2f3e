// Package janitor runs the registry's housekeeping tasks at boot and then on
// an interval, one run at a time, and logs what each run removed.
package janitor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/metrics"
)

// Task is one kind of housekeeping. Run returns how many records it removed
// or revoked.
type Task struct {
	Name string
	Run  func(ctx context.Context, now time.Time) (int, error)
}

// Janitor runs its tasks in order on every tick.
type Janitor struct {
	Tasks    []Task
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	Metrics  *metrics.Metrics

	mu     sync.Mutex // one run at a time
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs the tasks once now and then every Interval until Stop.
func (j *Janitor) Start(ctx context.Context) {
	ctx, j.cancel = context.WithCancel(ctx)
	j.done = make(chan struct{})
	j.RunOnce(ctx)
	go func() {
		defer close(j.done)
		ticker := time.NewTicker(j.Interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				j.RunOnce(ctx)
			}
		}
	}()
}

// Stop ends the loop and waits for a run in progress to finish.
func (j *Janitor) Stop() {
	if j.cancel == nil {
		return
	}
	j.cancel()
	<-j.done
}

// RunOnce runs every task now. A failing task is logged and counted, and
// the remaining tasks still run.
func (j *Janitor) RunOnce(ctx context.Context) {
	j.mu.Lock()
	defer j.mu.Unlock()

	now := time.Now()
	if j.Now != nil {
		now = j.Now()
	}
	outcome := "ok"
	for _, task := range j.Tasks {
		if ctx.Err() != nil {
			return
		}
		removed, err := task.Run(ctx, now)
		if err != nil {
			outcome = "error"
			j.Logger.Error("janitor task failed", "task", task.Name, "error", err)
			continue
		}
		if removed > 0 {
			j.Metrics.JanitorRemoved.WithLabelValues(task.Name).Add(float64(removed))
			j.Logger.Info("janitor removed records", "task", task.Name, "removed", removed)
		}
	}
	j.Metrics.JanitorRuns.WithLabelValues(outcome).Inc()
}
