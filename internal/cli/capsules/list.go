package capsules

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ListOptions are the inputs of capsol capsules list.
type ListOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	// Owner keeps the capsules of one operator id; Query those whose name
	// or id contains it.
	Owner, Query string
	// Unowned keeps the capsules without an owner.
	Unowned bool
}

// ListResult is the JSON output of capsol capsules list, the body of
// GET /v1/capsules.
type ListResult struct {
	Capsules []client.Capsule `json:"capsules"`
}

// NewCmdList returns the capsol capsules list command.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List capsules with their owners",
		Long: `List capsules, oldest first, from GET /v1/capsules.

Output: a table on a terminal, otherwise (or with -o json) {"capsules":
[{"id", "name", "owner_id", "anonymous", "created_at", "expires_at",
"entry_count"}]}.`,
		Example: `  capsol capsules list
  capsol capsules list --owner op_01jcxs0f6ke3kq1c2d2m3t7w4a
  capsol capsules list --unowned -o json | jq -r '.capsules[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Unowned && opts.Owner != "" {
				return cmdutil.UsageError("give --owner or --unowned, not both")
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
	cmd.Flags().StringVar(&opts.Owner, "owner", "", "only the capsules of this operator id (op_…)")
	cmd.Flags().BoolVar(&opts.Unowned, "unowned", false, "only capsules without an owner, such as those created before 0.19")
	cmd.Flags().StringVarP(&opts.Query, "query", "q", "", "only capsules whose name or id contains this text")
	return cmd
}

// RunList lists the capsules that opts select.
func RunList(ctx context.Context, opts *ListOptions) error {
	all, err := opts.Client.ListCapsules(ctx, opts.Owner, opts.Query)
	if err != nil {
		return err
	}
	capsules := []client.Capsule{}
	for _, c := range all {
		if opts.Unowned && c.OwnerID != nil {
			continue
		}
		capsules = append(capsules, c)
	}
	if !opts.Printer.JSON() && len(capsules) == 0 {
		opts.Printer.Println("No capsules match.")
		return nil
	}
	return printCapsules(opts.Printer, capsules)
}
