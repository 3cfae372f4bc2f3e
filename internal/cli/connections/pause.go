package connections

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdPause returns the capsol connections pause command.
func NewCmdPause(f *cmdutil.Factory) *cobra.Command {
	opts := &StatusOptions{Status: StatusPaused}
	cmd := &cobra.Command{
		Use:   "pause [CONNECTION_ID...] [--label LABEL]",
		Short: "Pause connections until resumed: their requests get 401 connection_paused",
		Long: `Pause connections by id, or every connection with a label: the reversible
variant of revoke. The agent's next request is refused with 401
connection_paused until capsol connections resume. A revoked connection
cannot be paused.

Output: as capsol connections revoke.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol connections pause --label laptop-bot
  capsol connections pause con_01jcxs0f6ke3kq1c2d2m3t7w4a`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(f, opts, args); err != nil {
				return err
			}
			return RunSetStatus(cmd.Context(), opts)
		},
	}
	addSelectionFlags(cmd, opts)
	return cmd
}
