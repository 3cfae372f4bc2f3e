package operators

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// InviteOptions are the inputs of capsol operators invite.
type InviteOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Email   string
	Role    string
}

// NewCmdInvite returns the capsol operators invite command.
func NewCmdInvite(f *cmdutil.Factory) *cobra.Command {
	opts := &InviteOptions{}
	cmd := &cobra.Command{
		Use:   "invite EMAIL --role admin|approver|viewer",
		Short: "Invite an operator by email",
		Long: `Create a single-use invite link with POST /v1/operators/invites. The link
expires in 7 days; the first OIDC sign-in with the invited email binds the
role and uses up the link. When the registry has an SMTP URL it emails the
link; otherwise deliver it yourself. The link is shown only this once.

Output: the link on a terminal, otherwise (or with -o json)
{"invite_id", "url", "expires_at", "emailed"}.

Exit status: 0 created, 1 failed, 2 usage error, 4 admin key rejected,
5 daemon unreachable.`,
		Example: `  capsol operators invite alice@example.com --role approver`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Email = args[0]
			if !strings.Contains(opts.Email, "@") {
				return cmdutil.UsageError("%q is not an email address; give the address the operator signs in with", opts.Email)
			}
			if err := checkRole(opts.Role); err != nil {
				return err
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunInvite(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", "", "role the invite binds: admin, approver or viewer (required)")
	return cmd
}

// RunInvite creates the invite and prints its link.
func RunInvite(ctx context.Context, opts *InviteOptions) error {
	invite, err := opts.Client.InviteOperator(ctx, opts.Email, opts.Role)
	if err != nil {
		return err
	}
	p := opts.Printer
	if p.JSON() {
		return p.PrintJSON(invite)
	}
	p.Printf("Invited %s as %s (%s), valid until %s UTC.\n", opts.Email, opts.Role, invite.InviteID, invite.ExpiresAt.UTC().Format(time.DateTime))
	if invite.Emailed {
		p.Println("The registry emailed the link. It is also shown here, only this once:")
	} else {
		p.Println("The link was not emailed (no SMTP URL is set, or sending failed: the daemon log says which), so send this single-use link to the operator yourself; it is shown only this once:")
	}
	p.Printf("  %s\n", p.Bold(invite.URL))
	return nil
}
