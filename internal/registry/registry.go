// Package registry is the daemon's domain layer over the store: capsules,
// shares, enrollments and connections, the boxes and audit logs of each
// capsule, and the hooks that let the MCP layer react to changes. HTTP
// handlers and the MCP server call it; it never sees an HTTP request.
package registry

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/store"
)

// Registry holds the open data directory and everything derived from it.
type Registry struct {
	Store   *store.Store
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	BaseURL string
	Clock   func() time.Time

	operations *operations

	mu    sync.Mutex
	boxes map[string]*box.Box
	logs  map[string]*auditlog.Log

	hooksMu          sync.RWMutex
	entryHooks       []func(capsuleID, uri string)
	connectionHooks  []func(connectionID string)
	capsuleGoneHooks []func(capsuleID string)
}

// New returns a registry over an open store.
func New(st *store.Store, logger *slog.Logger, m *metrics.Metrics, baseURL string) *Registry {
	return &Registry{
		Store: st, Logger: logger, Metrics: m, BaseURL: baseURL, Clock: time.Now,
		boxes: map[string]*box.Box{}, logs: map[string]*auditlog.Log{},
		operations: newOperations(),
	}
}

// Now returns the registry's current time in UTC.
func (r *Registry) Now() time.Time { return r.Clock().UTC() }

// MCPURL returns the MCP endpoint of a capsule.
func (r *Registry) MCPURL(capsuleID string) string {
	return r.BaseURL + "/mcp/" + capsuleID
}

// Box returns the open box of a capsule, opening it on first use. The id
// must be a valid capsule id of an existing capsule.
func (r *Registry) Box(capsuleID string) (*box.Box, error) {
	if !ids.Valid(ids.Capsule, capsuleID) {
		return nil, fmt.Errorf("invalid capsule id %q", capsuleID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.boxes[capsuleID]; ok {
		return b, nil
	}
	ttl := time.Duration(r.Store.Policy.Get().SignalTTLSeconds) * time.Second
	b, err := box.Open(r.Store.BoxDir(capsuleID), box.Options{
		WriteGate: r.Store.WriteGate,
		OnChange:  func(uri string) { r.entryChanged(capsuleID, uri) },
		Now:       r.Now,
		SignalTTL: ttl,
		Logger:    r.Logger.With("capsule_id", capsuleID),
	})
	if err != nil {
		return nil, fmt.Errorf("open box of %s: %w", capsuleID, err)
	}
	r.boxes[capsuleID] = b
	return b, nil
}

// CapsuleLog returns the audit log of a capsule, opening it on first use.
func (r *Registry) CapsuleLog(capsuleID string) (*auditlog.Log, error) {
	if !ids.Valid(ids.Capsule, capsuleID) {
		return nil, fmt.Errorf("invalid capsule id %q", capsuleID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.logs[capsuleID]; ok {
		return l, nil
	}
	l, err := auditlog.Open(CapsuleLogDir(r.Store, capsuleID), auditlog.Options{
		Now: r.Now,
		OnError: func(err error) {
			r.Metrics.AuditFailures.WithLabelValues("capsule").Inc()
			r.Logger.Error("capsule audit log sync failed", "capsule_id", capsuleID, "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open audit log of %s: %w", capsuleID, err)
	}
	r.logs[capsuleID] = l
	return l, nil
}

// CapsuleLogDir returns the directory of a capsule's daily audit files.
func CapsuleLogDir(st *store.Store, capsuleID string) string {
	return filepath.Join(st.BoxDir(capsuleID), "logs")
}

// AppendCapsuleLog writes one line to a capsule's audit log. A failure is
// logged and counted, never dropped silently.
func (r *Registry) AppendCapsuleLog(capsuleID string, record auditlog.CapsuleRecord) {
	l, err := r.CapsuleLog(capsuleID)
	if err == nil {
		err = l.Append(record)
	}
	if err != nil {
		r.Metrics.AuditFailures.WithLabelValues("capsule").Inc()
		r.Logger.Error("capsule audit append failed", "capsule_id", capsuleID,
			"connection_id", record.ConnectionID, "method", record.Method, "error", err)
	}
}

// Close flushes and closes every open audit log.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first error
	for id, l := range r.logs {
		if err := l.Close(); err != nil && first == nil {
			first = fmt.Errorf("close audit log of %s: %w", id, err)
		}
	}
	r.logs = map[string]*auditlog.Log{}
	return first
}

// OnEntryChanged registers fn to run after an entry of any capsule changed.
func (r *Registry) OnEntryChanged(fn func(capsuleID, uri string)) {
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	r.entryHooks = append(r.entryHooks, fn)
}

// OnConnectionChanged registers fn to run after a connection was paused,
// revoked or otherwise lost access, so open MCP streams can be closed.
func (r *Registry) OnConnectionChanged(fn func(connectionID string)) {
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	r.connectionHooks = append(r.connectionHooks, fn)
}

// OnCapsuleGone registers fn to run after a capsule was deleted or expired.
func (r *Registry) OnCapsuleGone(fn func(capsuleID string)) {
	r.hooksMu.Lock()
	defer r.hooksMu.Unlock()
	r.capsuleGoneHooks = append(r.capsuleGoneHooks, fn)
}

func (r *Registry) entryChanged(capsuleID, uri string) {
	r.hooksMu.RLock()
	defer r.hooksMu.RUnlock()
	for _, fn := range r.entryHooks {
		fn(capsuleID, uri)
	}
}

// ConnectionChanged runs the connection hooks for connectionID.
func (r *Registry) ConnectionChanged(connectionID string) {
	r.hooksMu.RLock()
	defer r.hooksMu.RUnlock()
	for _, fn := range r.connectionHooks {
		fn(connectionID)
	}
}

// CapsuleGone runs the capsule hooks and forgets the capsule's open box and
// log, so nothing writes into a box that was moved away.
func (r *Registry) CapsuleGone(capsuleID string) {
	r.mu.Lock()
	delete(r.boxes, capsuleID)
	if l, ok := r.logs[capsuleID]; ok {
		_ = l.Close()
		delete(r.logs, capsuleID)
	}
	r.mu.Unlock()

	r.hooksMu.RLock()
	defer r.hooksMu.RUnlock()
	for _, fn := range r.capsuleGoneHooks {
		fn(capsuleID)
	}
}
