package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ShowOptions are the inputs of capsol logs show.
type ShowOptions struct {
	Client    *client.Client
	Printer   cmdutil.Printer
	CapsuleID string
	Filter    client.LogFilter

	// Follow keeps polling every Interval for new entries until ctx ends.
	Follow   bool
	Interval time.Duration
}

// entry holds the fields of a capsule audit line that the table shows.
type entry struct {
	TS           time.Time `json:"ts"`
	ConnectionID string    `json:"connection_id"`
	Kind         string    `json:"kind"`
	Method       string    `json:"method"`
	Tool         string    `json:"tool"`
	URI          string    `json:"uri"`
	Outcome      string    `json:"outcome"`
	ErrorCode    string    `json:"error_code"`
	DurationMS   int64     `json:"duration_ms"`
	RemoteAddr   string    `json:"remote_addr"`
}

var showHeader = []string{"time", "connection", "method", "tool", "uri", "outcome", "error code", "ms"}

// NewCmdShow returns the capsol logs show command.
func NewCmdShow(f *cmdutil.Factory) *cobra.Command {
	opts := &ShowOptions{}
	var since string
	cmd := &cobra.Command{
		Use:   "show CAPSULE_ID [--since AGE|TIME] [--connection ID] [--follow]",
		Short: "Show a capsule's audit log: who read and wrote what",
		Long: `Show a capsule's audit log through GET /v1/capsules/<id>/logs, oldest
first: one line per MCP request with its connection, tool, URI, outcome and
error code. Entry content and credentials are never logged.

--since takes an age (15m, 2h, 7d) or an RFC 3339 time. Without --since or
--date the newest --limit entries are shown. --follow keeps printing new
entries as they arrive, polling every --interval, until interrupted.

Output: a table on a terminal, otherwise (or with -o json) JSON Lines: each
entry as the daemon stores it, one object per line, with "ts",
"connection_id", "principal_id", "kind", "method", "tool", "uri",
"outcome", "error_code", "duration_ms", "remote_addr" and "prev". The
table shows times in UTC.`,
		Example: `  # What did a leaked connection read or write in the last day?
  capsol logs show cap_01jcxs0f6ke3kq1c2d2m3t7w4a --connection con_01jcxs0f6ke3kq1c2d2m3t7w4b --since 24h

  # Watch refusals as they happen
  capsol logs show cap_01jcxs0f6ke3kq1c2d2m3t7w4a --follow -o json | jq -c 'select(.outcome != "ok")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.CapsuleID = args[0]
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return cmdutil.UsageError("--since: %v", err)
				}
				opts.Filter.Since = t
			}
			if opts.Filter.Limit < 0 {
				return cmdutil.UsageError("invalid --limit %d: give a positive number", opts.Filter.Limit)
			}
			if opts.Follow && opts.Interval < 100*time.Millisecond {
				return cmdutil.UsageError("invalid --interval %s: give 100ms or more", opts.Interval)
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if opts.Follow {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
			}
			return RunShow(ctx, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&since, "since", "", "only entries from this age (15m, 2h, 7d) or RFC 3339 time on")
	flags.StringVar(&opts.Filter.ConnectionID, "connection", "", "only the entries of this connection id")
	flags.StringVar(&opts.Filter.Date, "date", "", "only this UTC day, YYYY-MM-DD")
	flags.IntVar(&opts.Filter.Limit, "limit", 0, "at most this many newest entries (default: the daemon's limit of 1000)")
	flags.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new entries until interrupted")
	flags.DurationVar(&opts.Interval, "interval", 2*time.Second, "with --follow, how often to ask the daemon for new entries")
	return cmd
}

// parseSince parses an age before now or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	age, err := ParseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid value %q: use an age such as 15m, 2h or 7d, or an RFC 3339 time such as 2026-01-31T14:00:00Z", s)
	}
	return now.Add(-age), nil
}

// RunShow prints the entries that opts select, and with Follow the new
// ones until ctx ends.
func RunShow(ctx context.Context, opts *ShowOptions) error {
	entries, err := opts.Client.CapsuleLogs(ctx, opts.CapsuleID, opts.Filter)
	if err != nil {
		if client.ErrorCode(err) == "not_found" {
			return fmt.Errorf("capsule %s: %w; list the capsules with capsol capsules list", opts.CapsuleID, err)
		}
		return err
	}
	if !opts.Follow {
		return printEntries(opts.Printer, entries)
	}

	// In follow mode lines are printed as they come, so the table is not
	// aligned across polls.
	tail := newTail()
	if !opts.Printer.JSON() {
		opts.Printer.Println(strings.ToUpper(strings.Join(showHeader, "  ")))
	}
	for {
		for _, raw := range tail.fresh(entries) {
			if err := printFollowed(opts.Printer, raw); err != nil {
				return err
			}
		}

		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Interval):
		}
		filter := opts.Filter
		filter.Limit = 0
		if !tail.last.IsZero() {
			filter.Since = tail.last
		}
		entries, err = opts.Client.CapsuleLogs(ctx, opts.CapsuleID, filter)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// tail remembers what follow mode printed. Polls ask for entries since the
// last printed time, which returns the entries of that instant again, so
// the lines printed at that instant are kept to skip them.
type tail struct {
	last   time.Time
	atLast map[string]bool
}

func newTail() *tail { return &tail{atLast: map[string]bool{}} }

// fresh returns the entries of a poll that were not printed before, and
// records them as printed.
func (t *tail) fresh(entries []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for _, raw := range entries {
		var e entry
		if json.Unmarshal(raw, &e) != nil {
			continue
		}
		key := string(raw)
		switch {
		case e.TS.Before(t.last):
			continue
		case e.TS.Equal(t.last):
			if t.atLast[key] {
				continue
			}
		default:
			t.last = e.TS
			t.atLast = map[string]bool{}
		}
		t.atLast[key] = true
		out = append(out, raw)
	}
	return out
}

// printEntries writes entries as JSON Lines or as a table.
func printEntries(p cmdutil.Printer, entries []json.RawMessage) error {
	if p.JSON() {
		for _, raw := range entries {
			if err := writeLine(p, raw); err != nil {
				return err
			}
		}
		return nil
	}
	if len(entries) == 0 {
		p.Println("No log entries match.")
		return nil
	}
	rows := make([][]string, 0, len(entries))
	for _, raw := range entries {
		rows = append(rows, entryRow(p, raw))
	}
	return p.Table(showHeader, rows)
}

func printFollowed(p cmdutil.Printer, raw json.RawMessage) error {
	if p.JSON() {
		return writeLine(p, raw)
	}
	p.Println(strings.Join(entryRow(p, raw), "  "))
	return nil
}

// writeLine writes one entry as a compact JSON line, as stored.
func writeLine(p cmdutil.Printer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("the daemon returned a log entry that is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := p.Out.Write(buf.Bytes())
	return err
}

func entryRow(p cmdutil.Printer, raw json.RawMessage) []string {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return []string{"", "", "", "", string(raw), "", "", ""}
	}
	return []string{
		e.TS.UTC().Format("2006-01-02 15:04:05"), e.ConnectionID, e.Method, e.Tool, e.URI,
		p.Status(e.Outcome), e.ErrorCode, strconv.FormatInt(e.DurationMS, 10),
	}
}
