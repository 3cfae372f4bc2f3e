// Package connections holds capsol connections and its list, revoke, pause
// and resume subcommands. A connection is a share or an OAuth credential
// family of one agent on one capsule.
package connections

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// Statuses of a connection, as the API names them.
const (
	StatusActive  = "active"
	StatusPaused  = "paused"
	StatusRevoked = "revoked"
)

// NewCmdConnections returns the capsol connections command.
func NewCmdConnections(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "List, revoke, pause and resume agent connections",
		Long: `A connection is one agent's credentialed link to one capsule: a share
credential (kind "share") or an OAuth token family (kind "oauth").
Revoking is final and takes effect on the agent's very next request, which
gets 401 token_revoked. Pausing is the reversible variant (401
connection_paused until resumed).`,
		Example: `  capsol connections list --capsule cap_01jc...
  capsol connections revoke --label laptop-bot
  capsol connections pause con_01jc...
  capsol connections resume con_01jc...`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdList(f), NewCmdRevoke(f), NewCmdPause(f), NewCmdResume(f))
	return cmd
}

// tableRows returns the rows of the connections table.
func tableRows(p cmdutil.Printer, connections []client.Connection) [][]string {
	rows := make([][]string, 0, len(connections))
	for _, c := range connections {
		rows = append(rows, []string{
			c.ConnectionID, c.Label, c.Kind, c.Role, p.Status(c.Status), c.CapsuleID,
			cmdutil.FormatTime(c.CreatedAt), cmdutil.FormatTimePtr(c.LastUsedAt, "never"),
		})
	}
	return rows
}

var tableHeader = []string{"id", "label", "kind", "role", "status", "capsule", "created", "last used"}
