package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/doctor"
)

func newDoctorCommand() *cobra.Command {
	var dataDir, home, output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a data directory offline and name the fix for each problem",
		Long: `Check a data directory without a running daemon and without changing it:
every JSON file parses, the schema is known, modes are private, the lock
state, the admin key, leftover temporary files and orphaned boxes. Exits 1
when a problem was found.`,
		Example: `  capsol doctor --data-dir /var/lib/capsol/registry-data
  capsol doctor -o json | jq '.findings[] | select(.severity != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dataDir = resolve(cmd, "data-dir", dataDir, "CAPSOL_DATA_DIR", "./registry-data")
			home = resolve(cmd, "home", home, "CAPSOL_HOME", defaultHome())
			report := doctor.Run(doctor.Options{
				DataDir: absPath(dataDir), Home: absPath(home), AdminKeyEnv: os.Getenv("CAPSOL_ADMIN_KEY") != "",
				SecretKey: os.Getenv("CAPSOL_SECRET_KEY"), SecretKeyFile: os.Getenv("CAPSOL_SECRET_KEY_FILE"),
			})
			if err := printDoctorReport(cmd, report, output); err != nil {
				return err
			}
			if n := report.Problems(); n > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s found in %s", cmdutil.Pluralize(n, "problem", "problems"), report.DataDir)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory to check (env CAPSOL_DATA_DIR, default ./registry-data)")
	cmd.Flags().StringVar(&home, "home", "", "directory of admin.key (env CAPSOL_HOME, default ~/.capsol)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: table or json (default table on a terminal, json otherwise)")
	return cmd
}

func printDoctorReport(cmd *cobra.Command, report doctor.Report, output string) error {
	out := cmd.OutOrStdout()
	if outputFormat(output, out) == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	for _, f := range report.Findings {
		fmt.Fprintf(out, "%-8s %-10s %s: %s\n", f.Severity, f.Check, f.Subject, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(out, "%-8s %-10s fix: %s\n", "", "", f.Fix)
		}
	}
	return nil
}

// resolve returns a flag's value when set, else the environment, else def.
func resolve(cmd *cobra.Command, flag, value, env, def string) string {
	if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
		return value
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

func defaultHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".capsol"
	}
	return filepath.Join(home, ".capsol")
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
