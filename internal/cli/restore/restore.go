// Package restore holds the capsol restore command and its drill
// subcommand.
package restore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// Options are the inputs of capsol restore.
type Options struct {
	Archive string
	DataDir string
	Format  string // "table" or "json"
	Limits  backup.Limits

	Stdout   io.Writer
	Progress *cmdutil.Progress
}

// Result is the JSON output of capsol restore. Its fields are stable.
type Result struct {
	*backup.RestoreResult
	NextSteps []string `json:"next_steps"`
}

// NewCmdRestore returns the capsol restore command with its drill
// subcommand.
func NewCmdRestore() *cobra.Command {
	opts := &Options{}
	var format string
	var limits cmdutil.LimitFlags
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the data directory with a backup, keeping the old one",
		Long: `Restore a backup archive into --data-dir. It accepts archives of capsol
backup and of the manual tar runbook, whatever the name of their top
directory.

capsol restore refuses while a daemon holds the lock of the data directory:
stop the daemon first. It extracts the archive into a new directory beside
the data directory, rejecting absolute paths, ".." components, links,
device files and members over the size limits before it creates anything
for them. It verifies the result like capsol backup verify, then moves the
current data directory to <dir>.broken-<unix> (it never deletes it) and
renames the restored directory into place. Files are created with mode
0600 and directories 0700.

Output: the restored directory and the next steps on a terminal, otherwise
(or with -o json) one JSON object: {"archive", "data_dir", "moved_to",
"verification": {report as in capsol backup verify}, "next_steps"}.

Exit status: 0 restored, 1 failed (nothing was changed), 2 usage error.`,
		Example: `  systemctl stop capsol
  capsol restore --data-dir /var/lib/capsol/registry-data capsol-backup-20260301-020000.tgz
  systemctl start capsol && curl -s localhost:4000/ready`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Archive = args[0]
			opts.DataDir = cmdutil.AbsPath(cmdutil.Resolve(cmd, "data-dir", opts.DataDir, "CAPSOL_DATA_DIR", "./registry-data"))
			var err error
			if opts.Format, err = cmdutil.OutputFormat(format, cmd.OutOrStdout()); err != nil {
				return err
			}
			if opts.Limits, err = limits.Parse(); err != nil {
				return err
			}
			opts.Stdout = cmd.OutOrStdout()
			opts.Progress = cmdutil.NewProgress(cmd.ErrOrStderr(), "restore")
			return Run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.DataDir, "data-dir", "", "data directory to restore into (env CAPSOL_DATA_DIR, default ./registry-data)")
	cmd.Flags().StringVarP(&format, "output", "o", "", "output format: table or json (default table on a terminal, json otherwise)")
	limits.Register(cmd)

	cmd.AddCommand(NewCmdDrill())
	return cmd
}

// Run restores the archive that opts name and prints the result.
func Run(opts *Options) error {
	res, err := backup.Restore(opts.Archive, opts.DataDir, backup.RestoreOptions{Limits: opts.Limits, Progress: opts.Progress.Update})
	opts.Progress.Finish()
	if err != nil {
		var invalid *backup.InvalidArchiveError
		if errors.As(err, &invalid) && opts.Format == cmdutil.FormatTable {
			for _, problem := range invalid.Report.Problems {
				fmt.Fprintln(opts.Stdout, "problem:", problem)
			}
		}
		return err
	}

	result := Result{RestoreResult: res, NextSteps: nextSteps(res)}
	if opts.Format == cmdutil.FormatJSON {
		enc := json.NewEncoder(opts.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}

	w := opts.Stdout
	checked := "manifest verified"
	if !res.Report.Manifest {
		checked = backup.NoManifestNote
	}
	fmt.Fprintf(w, "Restored %s from %s: %s, %s; %s.\n",
		res.DataDir, res.Archive, cmdutil.Pluralize(res.Report.Files, "file", "files"), cmdutil.FormatBytes(res.Report.Bytes), checked)
	for _, note := range res.Report.Notes {
		if note != backup.NoManifestNote {
			fmt.Fprintln(w, "note:", note)
		}
	}
	if res.MovedTo != "" {
		fmt.Fprintf(w, "The previous data directory is now %s; delete it once the registry works.\n", res.MovedTo)
	}
	fmt.Fprintln(w, "\nNext steps:")
	for i, step := range result.NextSteps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, step)
	}
	return nil
}

// readyURL is the /ready URL of the daemon as the operator's environment
// names it: CAPSOL_URL, else the PORT the daemon will bind, else the first
// port it tries.
func readyURL() string {
	if u := os.Getenv("CAPSOL_URL"); u != "" {
		return strings.TrimRight(u, "/") + "/ready"
	}
	if port := os.Getenv("PORT"); port != "" {
		return "localhost:" + port + "/ready"
	}
	return "localhost:4000/ready"
}

func nextSteps(res *backup.RestoreResult) []string {
	dir := bootfail.ShellQuote(res.DataDir)
	return []string{
		"Start the daemon: systemctl start capsol (or: CAPSOL_DATA_DIR=" + dir + " capsol serve)",
		`Check it: curl -s ` + readyURL() + `  # expect "ready"`,
		"On a new machine, also put back the admin key ($CAPSOL_HOME/admin.key, unless CAPSOL_ADMIN_KEY is set) and the secret key: the archive does not contain them.",
	}
}
