package connections

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdRevoke returns the capsol connections revoke command.
func NewCmdRevoke(f *cmdutil.Factory) *cobra.Command {
	opts := &StatusOptions{Status: StatusRevoked}
	var yes bool
	cmd := &cobra.Command{
		Use:   "revoke [CONNECTION_ID...] [--label LABEL]",
		Short: "Revoke connections: their next MCP request gets 401 token_revoked",
		Long: `Revoke connections by id, or every connection with a label. This is the
"Revoke a compromised agent" runbook in one command: the connection is set
to "revoked" with PATCH /v1/shares/<connection_id>, and the agent's very
next request, on an open MCP session too, is refused with 401
token_revoked. Revoking is final; use capsol connections pause for the
reversible variant.

On a terminal the command lists the connections and asks for confirmation
unless --yes is given; without a terminal it does not ask. It prints what
it revoked. A connection that is already revoked is reported and left as
it is. An id that does not exist stops the command before anything
changes (exit status 3).

Output: one line per connection on a terminal, otherwise (or with -o json)
{"connections": [connection as in capsol connections list], "unchanged":
[ids that were already revoked]}.

Exit status: 0 done, 1 failed or not confirmed, 2 usage error, 3 not
found, 4 admin key rejected, 5 daemon unreachable.`,
		Example: `  # Revoke the agent labelled laptop-bot, without a question
  capsol connections revoke --label laptop-bot --yes

  # Revoke two connections by id
  capsol connections revoke con_01jcxs0f6ke3kq1c2d2m3t7w4a con_01jcxs0f6ke3kq1c2d2m3t7w4b

  # An OAuth client whose token you hold: see capsol oauth revoke`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(f, opts, args); err != nil {
				return err
			}
			if !yes && f.CanPrompt() {
				opts.Confirm = func(question string) (bool, error) {
					return cmdutil.Confirm(f.Stdin, f.Stderr, question)
				}
			}
			return RunSetStatus(cmd.Context(), opts)
		},
	}
	addSelectionFlags(cmd, opts)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "revoke without asking for confirmation on a terminal")
	return cmd
}
