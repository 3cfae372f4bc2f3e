package connections

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ListOptions are the inputs of capsol connections list.
type ListOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Filter  client.ConnectionFilter
}

// ListResult is the JSON output of capsol connections list, the body of
// GET /v1/connections.
type ListResult struct {
	Connections []client.Connection `json:"connections"`
}

// NewCmdList returns the capsol connections list command.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List connections, filtered by capsule, status or label",
		Long: `List the connections of the registry, oldest first, from
GET /v1/connections.

Output: a table on a terminal, otherwise (or with -o json) the API's
object {"connections": [{"connection_id", "label", "role", "capsule_id",
"principal_id", "kind", "status", "created_at", "last_used_at",
"expires_at"}]}. Times in the table are UTC.`,
		Example: `  # Find the connection of a compromised agent
  capsol connections list --label laptop-bot

  # Everything paused, as JSON for a script
  capsol connections list --status paused -o json | jq -r '.connections[].connection_id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if err := checkStatus(opts.Filter.Status); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Filter.CapsuleID, "capsule", "", "only the connections of this capsule id")
	cmd.Flags().StringVar(&opts.Filter.Status, "status", "", "only connections with this status: active, paused or revoked")
	cmd.Flags().StringVar(&opts.Filter.Label, "label", "", "only connections with exactly this label")
	return cmd
}

// RunList lists the connections that opts select.
func RunList(ctx context.Context, opts *ListOptions) error {
	connections, err := opts.Client.ListConnections(ctx, opts.Filter)
	if err != nil {
		return err
	}
	if connections == nil {
		connections = []client.Connection{}
	}
	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(ListResult{Connections: connections})
	}
	if len(connections) == 0 {
		opts.Printer.Println("No connections match.")
		return nil
	}
	return opts.Printer.Table(tableHeader, tableRows(opts.Printer, connections))
}

func checkStatus(status string) error {
	switch status {
	case "", StatusActive, StatusPaused, StatusRevoked:
		return nil
	}
	return cmdutil.UsageError("invalid --status %q: use active, paused or revoked", status)
}
