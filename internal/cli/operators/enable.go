package operators

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdEnable returns the capsol operators enable command.
func NewCmdEnable(f *cmdutil.Factory) *cobra.Command {
	opts := &UpdateOptions{Done: "Enabled %s: they can sign in again."}
	return newUpdateCommand(f, &cobra.Command{
		Use:   "enable OPERATOR",
		Short: "Let a disabled operator sign in again",
		Long: `Enable a disabled operator with PATCH /v1/operators/<id>
{"status": "active"}. OPERATOR is an id (op_…) or an email.

Output: as capsol operators set-role.`,
		Example: `  capsol operators enable alice@example.com`,
		Args:    cobra.ExactArgs(1),
	}, opts, func([]string) error {
		status := client.OperatorActive
		opts.Update.Status = &status
		return nil
	})
}
