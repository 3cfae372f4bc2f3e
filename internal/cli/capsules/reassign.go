package capsules

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdReassign returns the capsol capsules reassign command.
func NewCmdReassign(f *cmdutil.Factory) *cobra.Command {
	opts := &OwnerOptions{}
	cmd := &cobra.Command{
		Use:   "reassign CAPSULE_ID... (--owner OPERATOR_ID | --unowned)",
		Short: "Give capsules another owner, such as when an operator leaves",
		Long: `Set the owner of capsules with PATCH /v1/capsules/<id>
{"owner_id": OPERATOR_ID}, or make them unowned with --unowned
({"owner_id": null}). Disabled operators keep their capsules until an
admin reassigns them.

Output: as capsol capsules claim.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  # Offboarding: move every capsule of one operator to another
  capsol capsules list --owner op_01jcxs0f6ke3kq1c2d2m3t7w4a -o json | jq -r '.capsules[].id' |
    xargs capsol capsules reassign --owner op_01jcxs0f6ke3kq1c2d2m3t7w4b

  capsol capsules reassign cap_01jcxs0f6ke3kq1c2d2m3t7w4c --unowned`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.Owner == "") == !opts.Unowned {
				return cmdutil.UsageError("give --owner OPERATOR_ID or --unowned, one of the two")
			}
			return runOwnerCommand(cmd, f, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.Owner, "owner", "", "operator id (op_…) of the new owner")
	cmd.Flags().BoolVar(&opts.Unowned, "unowned", false, "make the capsules unowned")
	return cmd
}
