package grants

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdRevoke returns the capsol grants revoke command.
func NewCmdRevoke(f *cmdutil.Factory) *cobra.Command {
	return newDecideCommand(f, &DecideOptions{Revoke: true}, &cobra.Command{
		Use:   "revoke GRANT_ID...",
		Short: "Deny pending grants or revoke approved ones",
		Long: `Revoke grants with POST /v1/grants/<id>/revoke. A pending request is
denied (the client gets access_denied); the tokens of an approved grant are
refused with 401 grant_revoked from their next request on.

Output: as capsol grants approve.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol grants revoke grt_01jcxs0f6ke3kq1c2d2m3t7w4a`,
	})
}
