// Package status holds capsol status, which reports whether the daemon is
// healthy and ready, its version, and what the registry holds.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

// Options are the inputs of capsol status.
type Options struct {
	Server     string
	HTTPClient *http.Client
	// Client reads the counts with the admin key. When it is nil, KeyErr
	// is the reason, and the counts are left out.
	Client  *client.Client
	KeyErr  error
	Printer cmdutil.Printer
	// DataDir is read for the lock file of a daemon on this host.
	DataDir string
}

// Result is the JSON output of capsol status. Its fields are stable.
type Result struct {
	URL string `json:"url"`
	// Reachable is false when nothing responded at URL.
	Reachable bool `json:"reachable"`
	// Health is the status of GET /health: "ok", or "" when unreachable.
	Health  string `json:"health"`
	Version string `json:"version"`
	// Ready is the status of GET /ready: "ready", "starting" or
	// "stopping", or "" when unreachable.
	Ready string `json:"ready"`
	// Daemon is the lock file of --data-dir while a daemon holds it and
	// records URL, else null.
	Daemon *Daemon `json:"daemon"`
	// Counts is null when the admin key is missing or rejected, and
	// CountsError then contains the reason.
	Counts      *Counts `json:"counts"`
	CountsError string  `json:"counts_error,omitempty"`
}

// Daemon is the content of the lock file of a running daemon.
type Daemon struct {
	PID       int       `json:"pid"`
	URL       string    `json:"url"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	DataDir   string    `json:"data_dir"`
}

// Counts are the sizes of the registry.
type Counts struct {
	Capsules          int `json:"capsules"`
	Connections       int `json:"connections"`
	ActiveConnections int `json:"active_connections"`
	PendingGrants     int `json:"pending_grants"`
}

// NewCmdStatus returns the capsol status command.
func NewCmdStatus(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's health, readiness, version, URL and counts",
		Long: `Check the daemon at --server (default: the URL in the lock file of
--data-dir, else http://localhost:4000): GET /health for liveness and the
version, GET /ready for readiness, and with the admin key the number of
capsules, connections and pending grants. When a daemon on this host
holds the lock of --data-dir and listens at that URL, its pid is shown.

Without an admin key the counts are left out and the status depends on
health and readiness alone, as a health check needs. A rejected admin key
leaves the counts out too, and exits 4.

Output: one line per item on a terminal, otherwise (or with -o json)
{"url", "reachable", "health", "version", "ready", "daemon": {"pid", "url",
"version", "started_at", "data_dir"} or null, "counts": {"capsules",
"connections", "active_connections", "pending_grants"} or null,
"counts_error"}.

Exit status: 0 ready, 1 not ready (starting or stopping), 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol status
  capsol status --server https://capsol.example.com -o json | jq .counts

  # In a health check: exit 0 only when ready
  capsol status -o json > /dev/null`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.Server, opts.DataDir = f.ServerURL(), f.DataDir()
			opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
			opts.Client, opts.KeyErr = f.Client()
			return Run(cmd.Context(), opts)
		},
	}
}

// Run checks the daemon, prints the result, and returns an error with
// the exit status when it is not ready or the counts are missing.
func Run(ctx context.Context, opts *Options) error {
	res := &Result{URL: opts.Server}
	// The lock file describes the daemon at Server only when it records the
	// same URL; --server may name a daemon on another host.
	if info, held, err := store.ReadLock(opts.DataDir); err == nil && held && info.URL == opts.Server {
		res.Daemon = &Daemon{PID: info.PID, URL: info.URL, Version: info.Version, StartedAt: info.StartedAt, DataDir: opts.DataDir}
	}

	var health struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}
	if _, err := getJSON(ctx, opts.HTTPClient, opts.Server+"/health", &health); err != nil {
		if printErr := printResult(opts.Printer, res); printErr != nil {
			return printErr
		}
		return err
	}
	res.Reachable, res.Health, res.Version = true, health.Status, health.Version

	var ready struct {
		Status string `json:"status"`
	}
	readyCode, err := getJSON(ctx, opts.HTTPClient, opts.Server+"/ready", &ready)
	if err != nil {
		return err
	}
	res.Ready = ready.Status

	// A missing key only leaves the counts out; a rejected one is an
	// error.
	var countErr error
	if opts.Client != nil {
		res.Counts, countErr = count(ctx, opts.Client)
	}
	switch {
	case countErr != nil:
		res.CountsError = countErr.Error()
	case opts.KeyErr != nil:
		res.CountsError = opts.KeyErr.Error()
	}

	if err := printResult(opts.Printer, res); err != nil {
		return err
	}
	if readyCode != http.StatusOK || res.Ready != "ready" {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: fmt.Errorf("the daemon at %s is not ready (%s)", opts.Server, res.Ready)}
	}
	return countErr
}

// count reads the counts through the admin API.
func count(ctx context.Context, c *client.Client) (*Counts, error) {
	capsules, err := c.ListCapsules(ctx, "", "")
	if err != nil {
		return nil, err
	}
	connections, err := c.ListConnections(ctx, client.ConnectionFilter{})
	if err != nil {
		return nil, err
	}
	pending, err := c.ListGrants(ctx, client.GrantFilter{Status: "pending"})
	if err != nil {
		return nil, err
	}
	counts := &Counts{Capsules: len(capsules), Connections: len(connections), PendingGrants: len(pending)}
	for _, conn := range connections {
		if conn.Status == "active" {
			counts.ActiveConnections++
		}
	}
	return counts, nil
}

// getJSON fetches url and decodes its JSON body into out, for any status,
// because /ready returns 503 with a body while the daemon starts or stops.
func getJSON(ctx context.Context, hc *http.Client, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, cmdutil.UsageError("invalid server URL in %q: %v", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return 0, fmt.Errorf("GET %s returned HTTP %d without a capsol JSON body; check that --server names a capsol daemon", url, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func printResult(p cmdutil.Printer, res *Result) error {
	if p.JSON() {
		return p.PrintJSON(res)
	}
	line := func(name, value string) { p.Printf("%-16s %s\n", name, value) }
	line("URL", res.URL)
	if !res.Reachable {
		line("Health", p.Status("error")+": nothing answered")
	} else {
		line("Health", p.Status(res.Health)+" (capsol "+res.Version+")")
		line("Ready", p.Status(res.Ready))
	}
	if d := res.Daemon; d != nil {
		line("Daemon", fmt.Sprintf("pid %d, capsol %s, started %s UTC, data dir %s", d.PID, d.Version, cmdutil.FormatTime(d.StartedAt), d.DataDir))
	}
	if c := res.Counts; c != nil {
		line("Capsules", fmt.Sprint(c.Capsules))
		line("Connections", fmt.Sprintf("%d (%d active)", c.Connections, c.ActiveConnections))
		line("Pending grants", fmt.Sprint(c.PendingGrants))
	} else if res.Reachable {
		line("Counts", "not shown: "+res.CountsError)
	}
	return nil
}
