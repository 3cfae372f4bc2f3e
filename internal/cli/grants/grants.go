// Package grants holds capsol grants and its list, approve and revoke
// subcommands. A grant is an OAuth client's approval to use one capsule
// with one role. An MCP client's authorization request waits as a pending
// grant until an approver approves it.
package grants

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// Statuses of a grant.
const (
	StatusPending  = "pending"
	StatusApproved = "approved"
	StatusRevoked  = "revoked"
)

// NewCmdGrants returns the capsol grants command.
func NewCmdGrants(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "List, approve and revoke OAuth grants",
		Long: `When an MCP client asks for access through OAuth, its request waits on
the authorization page as a pending grant until an operator approves it.
Approving completes the client's redirect; revoking a pending grant denies
it, and revoking an approved one refuses its tokens with 401
grant_revoked from the next request on.

In CI, pass the admin key with --key or CAPSOL_ADMIN_KEY.`,
		Example: `  capsol grants list
  capsol grants approve grt_01jcxs0f6ke3kq1c2d2m3t7w4a
  CAPSOL_ADMIN_KEY=$ADMIN capsol grants revoke grt_01jcxs0f6ke3kq1c2d2m3t7w4a`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdList(f), NewCmdApprove(f), NewCmdRevoke(f))
	return cmd
}

var tableHeader = []string{"id", "client", "capsule", "role", "status", "requested", "decided by"}

func tableRows(p cmdutil.Printer, grants []client.Grant) [][]string {
	rows := make([][]string, 0, len(grants))
	for _, g := range grants {
		decidedBy := cmdutil.Deref(g.ApprovedBy, "")
		if g.Status == StatusRevoked {
			decidedBy = cmdutil.Deref(g.RevokedBy, "")
		}
		rows = append(rows, []string{
			g.ID, g.ClientName, g.CapsuleID, g.Role, p.Status(g.Status), cmdutil.FormatTime(g.RequestedAt), decidedBy,
		})
	}
	return rows
}

// DecideOptions are the inputs of capsol grants approve and revoke.
type DecideOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	IDs     []string
	// Revoke revokes the grants; false approves them.
	Revoke bool
}

// DecideResult is the JSON output of capsol grants approve and revoke:
// each grant as the registry returned it, in the shape of capsol grants
// list.
type DecideResult struct {
	Grants []client.Grant `json:"grants"`
}

// RunDecide approves or revokes each grant of opts. Every grant is tried,
// and the error joins the failures. When every grant failed, nothing is
// printed on stdout.
func RunDecide(ctx context.Context, opts *DecideOptions) error {
	decide, past := opts.Client.ApproveGrant, "Approved"
	if opts.Revoke {
		decide, past = opts.Client.RevokeGrant, "Revoked"
	}

	result := DecideResult{Grants: []client.Grant{}}
	var errs []error
	for _, id := range opts.IDs {
		grant, err := decide(ctx, id)
		if err != nil {
			if client.ErrorCode(err) == "not_found" {
				err = fmt.Errorf("grant %s: %w; list the grants with capsol grants list --all", id, err)
			} else {
				err = fmt.Errorf("grant %s: %w", id, err)
			}
			errs = append(errs, err)
			continue
		}
		result.Grants = append(result.Grants, grant)
	}
	if len(result.Grants) == 0 {
		return errors.Join(errs...)
	}

	if opts.Printer.JSON() {
		if err := opts.Printer.PrintJSON(result); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	for _, g := range result.Grants {
		opts.Printer.Printf("%s %s: %s as %s on %s (now %s)\n", past, opts.Printer.Bold(g.ID), g.ClientName, g.Role, g.CapsuleID, opts.Printer.Status(g.Status))
	}
	return errors.Join(errs...)
}

func newDecideCommand(f *cmdutil.Factory, opts *DecideOptions, cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if opts.Printer, err = f.Printer(); err != nil {
			return err
		}
		if opts.Client, err = f.Client(); err != nil {
			return err
		}
		opts.IDs = args
		return RunDecide(cmd.Context(), opts)
	}
	return cmd
}
