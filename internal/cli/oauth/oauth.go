// Package oauth holds capsol oauth and its revoke subcommand, which revokes
// an OAuth token family when the operator holds one of its tokens.
package oauth

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdOAuth returns the capsol oauth command.
func NewCmdOAuth(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oauth",
		Short: "Revoke OAuth tokens of MCP clients",
		Long: `OAuth-issued credentials also appear in capsol connections list with kind
"oauth", where they can be paused or revoked by connection id. When you
only hold a leaked token, capsol oauth revoke revokes its whole family.`,
		Example: `  capsol oauth revoke --token capsol_at_...`,
		RunE:    cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdRevoke(f))
	return cmd
}
