// Package enrollments holds capsol enrollments and its create, list and
// revoke subcommands. An enrollment token lets agents create their own
// share of one capsule with POST /enroll, a set number of times.
package enrollments

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdEnrollments returns the capsol enrollments command.
func NewCmdEnrollments(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enrollments",
		Short: "Create, list and revoke enrollment tokens",
		Long: `An enrollment token (capsol_enroll_…) lets agents enroll themselves: each
POST /enroll {"token", "label"} consumes one use and returns a new share
credential for the capsule. Tokens expire (default 24 hours) and run out of
uses (default 1); revoking one stops further enrollments but leaves the
shares already made.`,
		Example: `  capsol enrollments create cap_01jc... --role writer --uses 5
  capsol enrollments list
  capsol enrollments revoke enr_01jc...`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdCreate(f), NewCmdList(f), NewCmdRevoke(f))
	return cmd
}

var tableHeader = []string{"id", "capsule", "label", "role", "uses left", "status", "created", "expires"}

func tableRows(p cmdutil.Printer, enrollments []client.Enrollment) [][]string {
	rows := make([][]string, 0, len(enrollments))
	for _, e := range enrollments {
		rows = append(rows, []string{
			e.EnrollmentID, e.CapsuleID, e.Label, e.Role, strconv.Itoa(e.UsesLeft), p.Status(e.Status),
			cmdutil.FormatTime(e.CreatedAt), cmdutil.FormatTimePtr(e.ExpiresAt, "never"),
		})
	}
	return rows
}
