package logs

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// VerifyOptions are the inputs of capsol logs verify.
type VerifyOptions struct {
	DataDir string
	// CapsuleID checks that capsule's log alone; empty checks the
	// registry audit and every capsule's log.
	CapsuleID string
	Printer   cmdutil.Printer
}

// VerifyResult is the JSON output of capsol logs verify. Its fields are
// stable.
type VerifyResult struct {
	OK      bool          `json:"ok"`
	DataDir string        `json:"data_dir"`
	Logs    []VerifiedLog `json:"logs"`
}

// VerifiedLog is the check of one log: the auditlog report with the log's
// name and directory.
type VerifiedLog struct {
	// Log is "registry" or a capsule id.
	Log string `json:"log"`
	Dir string `json:"dir"`
	auditlog.Report
}

// NewCmdVerify returns the capsol logs verify command.
func NewCmdVerify(f *cmdutil.Factory) *cobra.Command {
	opts := &VerifyOptions{}
	return &cobra.Command{
		Use:   "verify [CAPSULE_ID]",
		Short: "Check the hash chains of the audit logs and name the first broken line",
		Long: `Walk the hash chain of the registry audit and of every capsule's log in
--data-dir, or of one capsule's log, day file by day file. Each line's
"prev" must be the SHA-256 of the line before it (the first line: 64
zeros, or the chain head that capsol logs prune recorded). The first line
that breaks the chain is named with its file and line number; it follows
an edited line or a gap left by deleted lines or files.

A consistent rewrite of a whole chain is not detected: keep the "head" of
each log (in the JSON output) somewhere else and compare it later. The
daemon may keep running; a line it is writing at that instant can show as
a break, so run the check again before acting on a break in today's file.

Output: one line per log on a terminal, otherwise (or with -o json)
{"ok", "data_dir", "logs": [{"log", "dir", "ok", "files", "lines",
"start", "head", "leftovers", "break": {"file", "line", "reason"}}]}.

Exit status: 0 every chain is whole, 1 a chain breaks or a log cannot be
read, 2 usage error, 3 capsule not found.`,
		Example: `  capsol logs verify
  capsol logs verify cap_01jcxs0f6ke3kq1c2d2m3t7w4a

  # Export the chain heads for a later comparison
  capsol logs verify -o json | jq -c '.logs[] | {log, head}' > heads-$(date +%F).jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.CapsuleID = args[0]
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.DataDir = f.DataDir()
			return RunVerify(opts)
		},
	}
}

// RunVerify checks the logs of opts and prints the result. A broken chain
// is an ExitFailure error naming the first broken file and line.
func RunVerify(opts *VerifyOptions) error {
	dirs, err := logDirs(opts.DataDir, opts.CapsuleID)
	if err != nil {
		return err
	}
	res := VerifyResult{OK: true, DataDir: opts.DataDir, Logs: []VerifiedLog{}}
	var firstProblem error
	for _, d := range dirs {
		report, err := auditlog.Verify(d.Dir)
		if err != nil {
			report = auditlog.Report{Break: &auditlog.Break{Reason: err.Error()}}
		}
		res.Logs = append(res.Logs, VerifiedLog{Log: d.Name, Dir: d.Dir, Report: report})
		if report.OK {
			continue
		}
		res.OK = false
		if firstProblem == nil {
			firstProblem = breakError(d, report)
		}
	}

	if err := printVerify(opts.Printer, res); err != nil {
		return err
	}
	if firstProblem != nil {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: firstProblem}
	}
	return nil
}

// breakError describes the first problem of a log that is not OK.
func breakError(d logDir, report auditlog.Report) error {
	b := report.Break
	if b.File == "" {
		return fmt.Errorf("the %s log in %s cannot be checked: %s", d.Name, d.Dir, b.Reason)
	}
	return fmt.Errorf("the %s log breaks at %s line %d: %s; restore that file from a backup or the prune archive, or keep it as evidence",
		d.Name, filepath.Join(d.Dir, b.File), b.Line, b.Reason)
}

func printVerify(p cmdutil.Printer, res VerifyResult) error {
	if p.JSON() {
		return p.PrintJSON(res)
	}
	rows := make([][]string, 0, len(res.Logs))
	for _, l := range res.Logs {
		status, detail := "OK", ""
		if l.OK {
			detail = "head " + shortHash(l.Head)
			if len(l.Leftovers) > 0 {
				detail += ", " + cmdutil.Pluralize(len(l.Leftovers), "file", "files") + " left by an interrupted prune"
			}
		} else {
			status = "BROKEN"
			detail = l.Break.Reason
			if l.Break.File != "" {
				detail = fmt.Sprintf("%s line %d: %s", l.Break.File, l.Break.Line, l.Break.Reason)
			}
		}
		rows = append(rows, []string{p.Status(status), l.Log, fmt.Sprint(l.Files), fmt.Sprint(l.Lines), detail})
	}
	return p.Table([]string{"status", "log", "files", "lines", "detail"}, rows)
}

// shortHash returns the first 12 hex digits of a hash, enough to compare
// by eye.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
