package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	capbackup "github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// VerifyOptions are the inputs of capsol backup verify.
type VerifyOptions struct {
	Archive string
	Format  string // "table" or "json"
	Limits  capbackup.Limits

	Stdout   io.Writer
	Progress *cmdutil.Progress
}

// VerifyResult is the JSON output of capsol backup verify: the report with
// an ok field. Its fields are stable.
type VerifyResult struct {
	OK bool `json:"ok"`
	*capbackup.Report
}

// NewCmdVerify returns the capsol backup verify command.
func NewCmdVerify() *cobra.Command {
	opts := &VerifyOptions{}
	var format string
	var limits cmdutil.LimitFlags
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check a backup archive and its manifest",
		Long: `Check a backup archive without extracting it: the gzip and tar streams,
that every member is a regular file or directory inside one top directory
with a safe name and size (what capsol restore accepts), that meta.json
names a layout, and that every *.json file parses.

With BACKUP-MANIFEST.json (archives of capsol backup) every listed file
must be present with its size and SHA-256, and no other file may be. An
archive made by the manual tar runbook has no manifest: its structure and
JSON are checked, and the result says "no manifest (manual backup)".

Output: a summary on a terminal, otherwise (or with -o json) one JSON
object: {"ok", "archive", "base", "manifest", "version", "schema",
"created_at", "files", "dirs", "bytes", "json_files", "problems",
"problem_count", "notes"}.

Exit status: 0 valid, 1 problems found or unreadable, 2 usage error.`,
		Example: `  capsol backup verify capsol-backup-20260301-020000.tgz
  capsol backup verify -o json backup.tgz | jq '.problems'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Archive = args[0]
			var err error
			if opts.Format, err = cmdutil.OutputFormat(format, cmd.OutOrStdout()); err != nil {
				return err
			}
			if opts.Limits, err = limits.Parse(); err != nil {
				return err
			}
			opts.Stdout = cmd.OutOrStdout()
			opts.Progress = cmdutil.NewProgress(cmd.ErrOrStderr(), "verify")
			return RunVerify(opts)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "", "output format: table or json (default table on a terminal, json otherwise)")
	limits.Register(cmd)
	return cmd
}

// RunVerify verifies the archive that opts name and prints the result.
func RunVerify(opts *VerifyOptions) error {
	report, err := capbackup.VerifyFile(opts.Archive, capbackup.VerifyOptions{Limits: opts.Limits, Progress: opts.Progress.Update})
	opts.Progress.Finish()
	var invalid *capbackup.InvalidArchiveError
	if err != nil && !errors.As(err, &invalid) {
		return err
	}

	if printErr := printReport(opts, report); printErr != nil {
		return printErr
	}
	if err != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: err}
	}
	return nil
}

func printReport(opts *VerifyOptions, report *capbackup.Report) error {
	if opts.Format == cmdutil.FormatJSON {
		enc := json.NewEncoder(opts.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(VerifyResult{OK: report.OK(), Report: report})
	}

	w := opts.Stdout
	status := "OK"
	if !report.OK() {
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s  %s\n", status, report.Archive)
	if report.Base != "" {
		fmt.Fprintf(w, "    data directory %s/, capsol %s, schema %d", report.Base, report.Version, report.Schema)
		if report.CreatedAt != nil {
			fmt.Fprintf(w, ", created %s", report.CreatedAt.Format("2006-01-02 15:04:05 MST"))
		}
		fmt.Fprintln(w)
	}
	checked := "no manifest"
	if report.Manifest {
		checked = "sizes and SHA-256 match the manifest"
	}
	fmt.Fprintf(w, "    %s (%s), %s, %s parsed, %s\n",
		cmdutil.Pluralize(report.Files, "file", "files"), cmdutil.FormatBytes(report.Bytes),
		cmdutil.Pluralize(report.Dirs, "directory", "directories"), cmdutil.Pluralize(report.JSONFiles, "JSON file", "JSON files"), checked)
	for _, note := range report.Notes {
		fmt.Fprintln(w, "note:", note)
	}
	for _, problem := range report.Problems {
		fmt.Fprintln(w, "problem:", problem)
	}
	if more := report.ProblemCount - len(report.Problems); more > 0 {
		fmt.Fprintf(w, "problem: ... and %d more\n", more)
	}
	return nil
}
