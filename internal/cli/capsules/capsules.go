// Package capsules holds capsol capsules and its list, create, claim and
// reassign subcommands.
package capsules

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdCapsules returns the capsol capsules command.
func NewCmdCapsules(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capsules",
		Short: "List and create capsules and manage their owners",
		Long: `A capsule is a shared knowledge space that agents reach at
/mcp/<capsule-id>. Each capsule may be owned by an operator (op_…);
capsules created before 0.19 are unowned until an admin claims them.`,
		Example: `  capsol capsules list
  capsol capsules create "design notes"
  capsol capsules claim cap_01jc... --owner op_01jc...
  capsol capsules reassign cap_01jc... --owner op_01jd...`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdList(f), NewCmdCreate(f), NewCmdClaim(f), NewCmdReassign(f))
	return cmd
}

var tableHeader = []string{"id", "name", "owner", "entries", "created", "expires"}

func tableRows(capsules []client.Capsule) [][]string {
	rows := make([][]string, 0, len(capsules))
	for _, c := range capsules {
		owner := cmdutil.Deref(c.OwnerID, "unowned")
		if c.Anonymous {
			owner = "anonymous"
		}
		rows = append(rows, []string{
			c.ID, c.Name, owner, strconv.Itoa(c.EntryCount),
			cmdutil.FormatTime(c.CreatedAt), cmdutil.FormatTimePtr(c.ExpiresAt, "never"),
		})
	}
	return rows
}

// printCapsules writes capsules as {"capsules": [...]} or as a table.
func printCapsules(p cmdutil.Printer, capsules []client.Capsule) error {
	if p.JSON() {
		return p.PrintJSON(ListResult{Capsules: capsules})
	}
	return p.Table(tableHeader, tableRows(capsules))
}
