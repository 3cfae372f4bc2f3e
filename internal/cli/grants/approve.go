package grants

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdApprove returns the capsol grants approve command.
func NewCmdApprove(f *cmdutil.Factory) *cobra.Command {
	return newDecideCommand(f, &DecideOptions{}, &cobra.Command{
		Use:   "approve GRANT_ID...",
		Short: "Approve pending grants",
		Long: `Approve pending grants with POST /v1/grants/<id>/approve. The MCP client
waiting on the authorization page is redirected with its code and can
fetch tokens.

Output: one line per grant on a terminal, otherwise (or with -o json)
{"grants": [grant as in capsol grants list]}. When every grant fails,
nothing is printed on stdout.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol grants approve grt_01jcxs0f6ke3kq1c2d2m3t7w4a
  capsol grants approve --key "$CAPSOL_ADMIN_KEY" grt_01jcxs0f6ke3kq1c2d2m3t7w4a`,
	})
}
