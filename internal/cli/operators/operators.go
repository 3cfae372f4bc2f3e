// Package operators holds capsol operators and its list, invite,
// set-role, disable and enable subcommands: the operator lifecycle.
package operators

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdOperators returns the capsol operators command.
func NewCmdOperators(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operators",
		Short: "Invite operators, change their roles, disable and enable them",
		Long: `Operators are the people who run the registry. They sign in to the
dashboard with OIDC; there are no passwords. Roles: admin (everything),
approver (approve grants, pause and revoke connections, read everything)
and viewer (read-only). A role change applies on the operator's next
sign-in; disabling ends their sessions at once and refuses new sign-ins.
Their capsules stay theirs until reassigned (capsol capsules reassign).

Operators are named by id (op_…) or by email.`,
		Example: `  capsol operators invite alice@example.com --role approver
  capsol operators set-role alice@example.com admin
  capsol operators disable alice@example.com`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdList(f), NewCmdInvite(f), NewCmdSetRole(f), NewCmdDisable(f), NewCmdEnable(f))
	return cmd
}

// resolveOperator returns the id of the operator named by idOrEmail: an
// id is returned as it is, and an email is looked up.
func resolveOperator(ctx context.Context, c *client.Client, idOrEmail string) (string, error) {
	if !strings.Contains(idOrEmail, "@") {
		return idOrEmail, nil
	}
	operators, err := c.ListOperators(ctx)
	if err != nil {
		return "", err
	}
	for _, op := range operators {
		if strings.EqualFold(op.Email, idOrEmail) {
			return op.ID, nil
		}
	}
	return "", &cmdutil.ExitError{Code: cmdutil.ExitNotFound,
		Err: fmt.Errorf("no operator has the email %s; list them with capsol operators list, or invite one with capsol operators invite", idOrEmail)}
}

func checkRole(role string) error {
	switch role {
	case client.RoleAdmin, client.RoleApprover, client.RoleViewer:
		return nil
	}
	return cmdutil.UsageError("invalid role %q: use admin, approver or viewer", role)
}

var operatorHeader = []string{"id", "email", "name", "role", "status", "created", "last sign-in"}

func operatorRows(p cmdutil.Printer, operators []client.Operator) [][]string {
	rows := make([][]string, 0, len(operators))
	for _, op := range operators {
		rows = append(rows, []string{
			op.ID, op.Email, op.Name, op.Role, p.Status(op.Status),
			cmdutil.FormatTime(op.CreatedAt), cmdutil.FormatTimePtr(op.LastLoginAt, "never"),
		})
	}
	return rows
}

// UpdateOptions are the inputs of capsol operators set-role, disable and
// enable.
type UpdateOptions struct {
	Client   *client.Client
	Printer  cmdutil.Printer
	Operator string // id or email
	Update   client.UpdateOperatorRequest
	// Done is the message printed on a terminal, with %s for the id.
	Done string
}

// RunUpdate applies opts.Update to the operator and prints it.
func RunUpdate(ctx context.Context, opts *UpdateOptions) error {
	id, err := resolveOperator(ctx, opts.Client, opts.Operator)
	if err != nil {
		return err
	}
	op, err := opts.Client.UpdateOperator(ctx, id, opts.Update)
	if err != nil {
		return fmt.Errorf("operator %s: %w", opts.Operator, err)
	}
	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(op)
	}
	opts.Printer.Printf(opts.Done+"\n", fmt.Sprintf("%s (%s)", opts.Printer.Bold(op.ID), op.Email))
	return opts.Printer.Table(operatorHeader, operatorRows(opts.Printer, []client.Operator{op}))
}

func newUpdateCommand(f *cmdutil.Factory, cmd *cobra.Command, opts *UpdateOptions, prepare func(args []string) error) *cobra.Command {
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Operator = args[0]
		if err := prepare(args); err != nil {
			return err
		}
		var err error
		if opts.Printer, err = f.Printer(); err != nil {
			return err
		}
		if opts.Client, err = f.Client(); err != nil {
			return err
		}
		return RunUpdate(cmd.Context(), opts)
	}
	return cmd
}
