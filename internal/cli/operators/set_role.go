package operators

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdSetRole returns the capsol operators set-role command.
func NewCmdSetRole(f *cmdutil.Factory) *cobra.Command {
	opts := &UpdateOptions{Done: "Changed the role of %s; it applies on the next sign-in."}
	return newUpdateCommand(f, &cobra.Command{
		Use:   "set-role OPERATOR ROLE",
		Short: "Change an operator's role",
		Long: `Change an operator's role with PATCH /v1/operators/<id> {"role": ROLE}.
The new role applies on the operator's next sign-in. OPERATOR is an id
(op_…) or an email.

Output: the operator on a terminal, otherwise (or with -o json) the
operator object as in capsol operators list.`,
		Example: `  capsol operators set-role alice@example.com approver
  capsol operators set-role op_01jcxs0f6ke3kq1c2d2m3t7w4a admin`,
		Args: cobra.ExactArgs(2),
	}, opts, func(args []string) error {
		role := args[1]
		if err := checkRole(role); err != nil {
			return err
		}
		opts.Update.Role = &role
		return nil
	})
}
