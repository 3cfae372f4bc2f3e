package grants

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ListOptions are the inputs of capsol grants list.
type ListOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Filter  client.GrantFilter
	// All keeps revoked grants, which are left out when Filter.Status is
	// empty.
	All bool
}

// ListResult is the JSON output of capsol grants list, in the shape of
// GET /v1/grants.
type ListResult struct {
	Grants []client.Grant `json:"grants"`
}

// NewCmdList returns the capsol grants list command.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending and approved grants",
		Long: `List grants, oldest first, from GET /v1/grants. Without --status or --all
the pending and approved grants are listed, which are the ones that wait
on an operator or give access.

Output: a table on a terminal, otherwise (or with -o json) {"grants":
[{"id", "capsule_id", "principal_id", "client_name", "role", "status",
"requested_at", "approved_by", "revoked_by", "revoked_at"}]}.`,
		Example: `  # What waits for approval
  capsol grants list --status pending

  # Approve every pending grant of one capsule
  capsol grants list --status pending --capsule cap_01jc... -o json | jq -r '.grants[].id' | xargs capsol grants approve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch opts.Filter.Status {
			case "", StatusPending, StatusApproved, StatusRevoked:
			default:
				return cmdutil.UsageError("invalid --status %q: use pending, approved or revoked", opts.Filter.Status)
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Filter.Status, "status", "", "only grants with this status: pending, approved or revoked")
	cmd.Flags().StringVar(&opts.Filter.CapsuleID, "capsule", "", "only the grants of this capsule id")
	cmd.Flags().BoolVar(&opts.All, "all", false, "include revoked grants")
	return cmd
}

// RunList lists the grants that opts select.
func RunList(ctx context.Context, opts *ListOptions) error {
	all, err := opts.Client.ListGrants(ctx, opts.Filter)
	if err != nil {
		return err
	}
	grants := []client.Grant{}
	for _, g := range all {
		if opts.Filter.Status == "" && !opts.All && g.Status == StatusRevoked {
			continue
		}
		grants = append(grants, g)
	}

	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(ListResult{Grants: grants})
	}
	if len(grants) == 0 {
		opts.Printer.Println("No grants match.")
		return nil
	}
	return opts.Printer.Table(tableHeader, tableRows(opts.Printer, grants))
}
