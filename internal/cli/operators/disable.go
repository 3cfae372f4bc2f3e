package operators

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdDisable returns the capsol operators disable command.
func NewCmdDisable(f *cmdutil.Factory) *cobra.Command {
	opts := &UpdateOptions{Done: "Disabled %s: their sessions stop working at their next request."}
	return newUpdateCommand(f, &cobra.Command{
		Use:   "disable OPERATOR",
		Short: "Offboard an operator: end their sessions and refuse new sign-ins",
		Long: `Disable an operator with PATCH /v1/operators/<id> {"status": "disabled"}.
Their dashboard sessions stop working at their next request and new
sign-ins are refused. Their capsules keep them as owner; move them with
capsol capsules reassign. OPERATOR is an id (op_…) or an email.

Output: as capsol operators set-role.`,
		Example: `  capsol operators disable alice@example.com
  capsol capsules list --owner op_01jcxs0f6ke3kq1c2d2m3t7w4a`,
		Args: cobra.ExactArgs(1),
	}, opts, func([]string) error {
		status := client.OperatorDisabled
		opts.Update.Status = &status
		return nil
	})
}
