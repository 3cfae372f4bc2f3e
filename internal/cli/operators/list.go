package operators

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ListOptions are the inputs of capsol operators list.
type ListOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	// Invites lists the invites instead of the operators.
	Invites bool
}

// ListResult is the JSON output of capsol operators list, the body of
// GET /v1/operators.
type ListResult struct {
	Operators []client.Operator `json:"operators"`
}

// InvitesResult is the JSON output of capsol operators list --invites,
// the body of GET /v1/operators/invites.
type InvitesResult struct {
	Invites []client.Invite `json:"invites"`
}

// NewCmdList returns the capsol operators list command.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List operators, or their invites",
		Long: `List operators, oldest first, from GET /v1/operators, or with --invites
the invites from GET /v1/operators/invites (without their links).

Output: a table on a terminal, otherwise (or with -o json) {"operators":
[{"id", "email", "name", "role", "status", "created_at",
"last_login_at"}]}, or {"invites": [{"invite_id", "email", "role",
"status", "created_by", "created_at", "expires_at", "consumed_at",
"revoked_at"}]} with --invites.`,
		Example: `  capsol operators list
  capsol operators list --invites`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
	cmd.Flags().BoolVar(&opts.Invites, "invites", false, "list the operator invites instead")
	return cmd
}

// RunList lists the operators or the invites.
func RunList(ctx context.Context, opts *ListOptions) error {
	p := opts.Printer
	if opts.Invites {
		invites, err := opts.Client.ListInvites(ctx)
		if err != nil {
			return err
		}
		if invites == nil {
			invites = []client.Invite{}
		}
		if p.JSON() {
			return p.PrintJSON(InvitesResult{Invites: invites})
		}
		if len(invites) == 0 {
			p.Println("No invites.")
			return nil
		}
		rows := make([][]string, 0, len(invites))
		for _, inv := range invites {
			rows = append(rows, []string{inv.InviteID, inv.Email, inv.Role, p.Status(inv.Status), inv.CreatedBy,
				cmdutil.FormatTime(inv.CreatedAt), cmdutil.FormatTime(inv.ExpiresAt)})
		}
		return p.Table([]string{"id", "email", "role", "status", "created by", "created", "expires"}, rows)
	}

	operators, err := opts.Client.ListOperators(ctx)
	if err != nil {
		return err
	}
	if operators == nil {
		operators = []client.Operator{}
	}
	if p.JSON() {
		return p.PrintJSON(ListResult{Operators: operators})
	}
	if len(operators) == 0 {
		p.Println("No operators yet. Invite one with: capsol operators invite EMAIL --role admin")
		return nil
	}
	return p.Table(operatorHeader, operatorRows(p, operators))
}
