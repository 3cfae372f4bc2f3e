package connections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// StatusOptions are the inputs of capsol connections revoke, pause and
// resume: the connections, by id or by label, and the status to set.
type StatusOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer

	// IDs are connection ids. Label selects the connections with exactly
	// this label instead, within CapsuleID when it is set.
	IDs       []string
	Label     string
	CapsuleID string

	// Status is the status to set: active, paused or revoked.
	Status string

	// Confirm requests a confirmation after the connections are listed
	// on Stderr. Nil means no confirmation.
	Confirm func(question string) (bool, error)
	// Stderr receives the list of connections that Confirm is about.
	Stderr io.Writer
}

// StatusResult is the JSON output of capsol connections revoke, pause and
// resume: each selected connection after the command, in the shape of
// capsol connections list, and the ids that already had the status.
type StatusResult struct {
	Connections []client.Connection `json:"connections"`
	Unchanged   []string            `json:"unchanged"`
}

// verbs of each target status, for messages.
var verbs = map[string]struct{ past, infinitive, gerund string }{
	StatusRevoked: {"Revoked", "revoke", "Revoking"},
	StatusPaused:  {"Paused", "pause", "Pausing"},
	StatusActive:  {"Resumed", "resume", "Resuming"},
}

// addSelectionFlags declares --label and --capsule.
func addSelectionFlags(cmd *cobra.Command, opts *StatusOptions) {
	cmd.Flags().StringVar(&opts.Label, "label", "", "select every connection with exactly this label instead of ids")
	cmd.Flags().StringVar(&opts.CapsuleID, "capsule", "", "with --label, only connections of this capsule id")
}

// prepare fills the options that every status command takes from the
// factory and checks the selection.
func prepare(f *cmdutil.Factory, opts *StatusOptions, args []string) error {
	opts.IDs = args
	if len(opts.IDs) == 0 && opts.Label == "" {
		return cmdutil.UsageError("name the connections: give connection ids (con_…) or --label LABEL")
	}
	if len(opts.IDs) > 0 && opts.Label != "" {
		return cmdutil.UsageError("give connection ids or --label, not both")
	}
	if opts.CapsuleID != "" && opts.Label == "" {
		return cmdutil.UsageError("--capsule narrows --label; with connection ids, leave it out")
	}
	var err error
	if opts.Printer, err = f.Printer(); err != nil {
		return err
	}
	opts.Client, err = f.Client()
	opts.Stderr = f.Stderr
	return err
}

// RunSetStatus sets the status of the selected connections and prints
// what changed. A connection that is not found stops the command before
// any change, with ExitNotFound. When some changes fail, the others are
// still made and the error joins the failures.
func RunSetStatus(ctx context.Context, opts *StatusOptions) error {
	verb, ok := verbs[opts.Status]
	if !ok {
		return fmt.Errorf("invalid connection status %q", opts.Status)
	}
	targets, err := selectConnections(ctx, opts)
	if err != nil {
		return err
	}

	var pending []client.Connection
	result := StatusResult{Connections: []client.Connection{}, Unchanged: []string{}}
	for _, c := range targets {
		if c.Status == opts.Status {
			result.Unchanged = append(result.Unchanged, c.ConnectionID)
			result.Connections = append(result.Connections, c)
			continue
		}
		pending = append(pending, c)
	}

	if len(pending) > 0 && opts.Confirm != nil {
		fmt.Fprintf(opts.Stderr, "%s these connections:\n", verb.gerund)
		for _, c := range pending {
			fmt.Fprintf(opts.Stderr, "  %s  %s  %s %s on %s (%s)\n", c.ConnectionID, c.Label, c.Role, c.Kind, c.CapsuleID, c.Status)
		}
		question := fmt.Sprintf("%s %s? Their agents are refused from their next request on.", capitalize(verb.infinitive), cmdutil.Pluralize(len(pending), "connection", "connections"))
		if opts.Status == StatusRevoked {
			question += " Revoking is final."
		}
		yes, err := opts.Confirm(question)
		if err != nil {
			return err
		}
		if !yes {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: cmdutil.ErrCancelled}
		}
	}

	// Every connection is attempted, so that one failure in an incident
	// does not leave the others usable.
	var errs []error
	var changed []client.Connection
	for _, c := range pending {
		updated, err := opts.Client.SetConnectionStatus(ctx, c.ConnectionID, opts.Status)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot %s %s: %w", verb.infinitive, c.ConnectionID, err))
			continue
		}
		changed = append(changed, updated)
		result.Connections = append(result.Connections, updated)
	}

	if err := printStatusResult(opts, verb.past, changed, result); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// selectConnections returns the connections that opts name. Ids are
// looked up in one listing, so the confirmation and the output can show
// their label and capsule.
func selectConnections(ctx context.Context, opts *StatusOptions) ([]client.Connection, error) {
	if opts.Label != "" {
		found, err := opts.Client.ListConnections(ctx, client.ConnectionFilter{Label: opts.Label, CapsuleID: opts.CapsuleID})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			where := ""
			if opts.CapsuleID != "" {
				where = " on capsule " + opts.CapsuleID
			}
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitNotFound,
				Err: fmt.Errorf("no connection has the label %q%s; list the labels with capsol connections list", opts.Label, where)}
		}
		return found, nil
	}

	all, err := opts.Client.ListConnections(ctx, client.ConnectionFilter{})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]client.Connection, len(all))
	for _, c := range all {
		byID[c.ConnectionID] = c
	}
	var selected []client.Connection
	var missing []string
	seen := map[string]bool{}
	for _, id := range opts.IDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		c, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		selected = append(selected, c)
	}
	if len(missing) > 0 {
		return nil, &cmdutil.ExitError{Code: cmdutil.ExitNotFound,
			Err: fmt.Errorf("connection %s not found; nothing was changed; list the connections with capsol connections list", strings.Join(missing, ", "))}
	}
	return selected, nil
}

func printStatusResult(opts *StatusOptions, past string, changed []client.Connection, result StatusResult) error {
	p := opts.Printer
	if p.JSON() {
		return p.PrintJSON(result)
	}
	for _, c := range changed {
		p.Printf("%s %s (label %q, %s %s on %s)\n", past, p.Bold(c.ConnectionID), c.Label, c.Role, c.Kind, c.CapsuleID)
	}
	for _, id := range result.Unchanged {
		p.Printf("%s was already %s\n", id, p.Status(opts.Status))
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
