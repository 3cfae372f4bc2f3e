// Package shares holds capsol shares and its create subcommand, which
// gives one agent a credential for one capsule.
package shares

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdShares returns the capsol shares command.
func NewCmdShares(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shares",
		Short: "Create share credentials for agents",
		Long: `A share is a credential (capsol_share_…) that lets one agent use one
capsule with a role. Each share is a connection: list, pause and revoke it
with capsol connections.`,
		Example: `  capsol shares create cap_01jc... --label laptop-bot --role writer`,
		RunE:    cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdCreate(f))
	return cmd
}
