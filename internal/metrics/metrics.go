// Package metrics defines the Prometheus metrics of one daemon on a registry
// of its own, so several daemons in one test process do not collide.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector the daemon updates.
type Metrics struct {
	Registry *prometheus.Registry

	Requests       *prometheus.CounterVec
	MCPCalls       *prometheus.CounterVec
	AuthFailures   *prometheus.CounterVec
	StoreWrites    *prometheus.HistogramVec
	JanitorRuns    *prometheus.CounterVec
	AuditFailures  *prometheus.CounterVec
	JanitorRemoved *prometheus.CounterVec
}

// New registers the daemon's collectors, plus the Go runtime and process
// collectors, on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "status"}),
		MCPCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_mcp_calls_total",
			Help: "MCP tool calls by tool and outcome (ok, error, denied).",
		}, []string{"tool", "outcome"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_auth_failures_total",
			Help: "Refused agent authentications by error_code.",
		}, []string{"error_code"}),
		StoreWrites: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "capsol_store_write_seconds",
			Help:    "Duration of durable index file writes (temp file, fsync, rename, directory fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"file"}),
		JanitorRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_janitor_runs_total",
			Help: "Janitor runs by outcome (ok, error).",
		}, []string{"outcome"}),
		JanitorRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_janitor_removed_total",
			Help: "Records the janitor removed or revoked, by kind.",
		}, []string{"kind"}),
		AuditFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capsol_audit_append_failures_total",
			Help: "Audit log lines that could not be appended, by log (capsule or registry).",
		}, []string{"log"}),
	}
	m.Registry.MustRegister(
		m.Requests, m.MCPCalls, m.AuthFailures, m.StoreWrites, m.JanitorRuns, m.JanitorRemoved, m.AuditFailures,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// ObserveWrite records one durable index write.
func (m *Metrics) ObserveWrite(file string, d time.Duration) {
	m.StoreWrites.WithLabelValues(file).Observe(d.Seconds())
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
