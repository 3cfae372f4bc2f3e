package connections

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdResume returns the capsol connections resume command.
func NewCmdResume(f *cmdutil.Factory) *cobra.Command {
	opts := &StatusOptions{Status: StatusActive}
	cmd := &cobra.Command{
		Use:   "resume [CONNECTION_ID...] [--label LABEL]",
		Short: "Resume paused connections",
		Long: `Set paused connections back to active, by id or by label. Their agents'
next requests are served again. A revoked connection stays revoked: the
registry answers 409 conflict and the command exits 1.

Output: as capsol connections revoke.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol connections resume --label laptop-bot
  capsol connections resume con_01jcxs0f6ke3kq1c2d2m3t7w4a`,
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
