// Package policy holds capsol policy and its get and set subcommands.
package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdPolicy returns the capsol policy command.
func NewCmdPolicy(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Show and change the registry policy",
		Long: `The policy limits the roles that shares, enrollments and grants may carry,
ages out grants, and sets the defaults of anonymous capsules, signals and
pending OAuth requests. The janitor applies grant ages hourly.`,
		Example: `  capsol policy get
  capsol policy set --max-grant-age-days 90 --allow-anonymous-capsules=false`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdGet(f), NewCmdSet(f))
	return cmd
}

// printPolicy writes p as the API's JSON object, or as a FIELD VALUE table.
func printPolicy(printer cmdutil.Printer, p client.Policy) error {
	if printer.JSON() {
		return printer.PrintJSON(p)
	}
	rows := [][]string{
		{"allowed_roles", strings.Join(p.AllowedRoles, ",")},
		{"max_grant_age_days", days(p.MaxGrantAgeDays)},
		{"max_idle_days", days(p.MaxIdleDays)},
		{"allow_anonymous_capsules", strconv.FormatBool(p.AllowAnonymousCapsules)},
		{"anonymous_capsule_ttl_hours", strconv.Itoa(p.AnonymousCapsuleTTLHours)},
		{"signal_ttl_seconds", strconv.Itoa(p.SignalTTLSeconds)},
		{"max_pending_grants_per_capsule", strconv.Itoa(p.MaxPendingGrantsPerCapsule)},
	}
	return printer.Table([]string{"field", "value"}, rows)
}

// days shows 0 as off, which is what it means for the grant ages.
func days(n int) string {
	if n == 0 {
		return "0 (off)"
	}
	return fmt.Sprintf("%d", n)
}
