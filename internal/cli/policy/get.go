package policy

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// GetOptions are the inputs of capsol policy get.
type GetOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
}

// NewCmdGet returns the capsol policy get command.
func NewCmdGet(f *cmdutil.Factory) *cobra.Command {
	opts := &GetOptions{}
	return &cobra.Command{
		Use:   "get",
		Short: "Show the policy",
		Long: `Show the policy from GET /v1/policy.

Output: a FIELD VALUE table on a terminal, otherwise (or with -o json) the
policy object {"allowed_roles", "max_grant_age_days", "max_idle_days",
"allow_anonymous_capsules", "anonymous_capsule_ttl_hours",
"signal_ttl_seconds", "max_pending_grants_per_capsule"}, which capsol
policy set --file accepts back.`,
		Example: `  capsol policy get
  capsol policy get -o json > policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunGet(cmd.Context(), opts)
		},
	}
}

// RunGet prints the policy.
func RunGet(ctx context.Context, opts *GetOptions) error {
	p, err := opts.Client.GetPolicy(ctx)
	if err != nil {
		return err
	}
	return printPolicy(opts.Printer, p)
}
