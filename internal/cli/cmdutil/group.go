package cmdutil

import (
	"github.com/spf13/cobra"
)

// RunGroup is the RunE of a command that only groups subcommands, such as
// capsol connections. Cobra never checks the arguments of a command
// without RunE and prints its help with exit status 0, so a mistyped
// subcommand would pass unnoticed in a script. RunGroup prints the help
// when there are no arguments and otherwise returns a usage error.
func RunGroup(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	return UsageError("unknown command %q for %q; run '%s --help' for its subcommands", args[0], cmd.CommandPath(), cmd.CommandPath())
}
