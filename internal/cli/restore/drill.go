package restore

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/backup/drill"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// DrillOptions are the inputs of capsol restore drill.
type DrillOptions struct {
	Archive string
	Format  string // "table" or "json"
	Drill   drill.Options

	Stdout, Stderr io.Writer
	Progress       *cmdutil.Progress
}

// NewCmdDrill returns the capsol restore drill command.
func NewCmdDrill() *cobra.Command {
	opts := &DrillOptions{}
	var format string
	var limits cmdutil.LimitFlags
	cmd := &cobra.Command{
		Use:   "drill FILE",
		Short: "Restore a backup into a scratch registry and read a capsule from it",
		Long: `Run the restore drill on a backup without touching the data directory:
restore the archive into a scratch directory, boot a scratch daemon on a
free loopback port with its own CAPSOL_HOME and admin key, wait for
/ready, create a reader share through the admin API, and read a capsule
over MCP as an agent would (capsule_info, list_entries, read_entry). Each
step is timed. The scratch daemon and directory are removed afterwards,
whether the drill passed or not.

The drill reads --capsule, or else the first live capsule with entries. A
registry without capsules passes with the note "no capsules to read".

Output: one line per step on a terminal, otherwise (or with -o json) one
JSON object: {"archive", "ok", "capsule_id", "entry_count", "listed",
"note", "steps": [{"name", "duration_ms", "detail", "error"}],
"duration_ms", "daemon_log"}. daemon_log holds the scratch daemon's last
log lines when the drill failed.

Exit status: 0 passed, 1 a step failed, 2 usage error.`,
		Example: `  # Quarterly drill of the latest backup
  capsol restore drill /backups/capsol-backup-20260301-020000.tgz

  # Scratch space on a bigger disk, a chosen capsule, JSON for monitoring
  capsol restore drill --scratch-dir /srv/tmp --capsule cap_01jc... -o json backup.tgz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Archive = args[0]
			var err error
			if opts.Format, err = cmdutil.OutputFormat(format, cmd.OutOrStdout()); err != nil {
				return err
			}
			if opts.Drill.Restore.Limits, err = limits.Parse(); err != nil {
				return err
			}
			opts.Stdout, opts.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			opts.Progress = cmdutil.NewProgress(cmd.ErrOrStderr(), "restore")
			return RunDrill(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "", "output format: table or json (default table on a terminal, json otherwise)")
	cmd.Flags().StringVar(&opts.Drill.ScratchDir, "scratch-dir", "", "directory for the scratch registry (default the system temporary directory)")
	cmd.Flags().StringVar(&opts.Drill.CapsuleID, "capsule", "", "id of the capsule to read (default the first live capsule with entries)")
	cmd.Flags().DurationVar(&opts.Drill.ReadyTimeout, "ready-timeout", drill.DefaultReadyTimeout, "how long to wait for the scratch daemon's /ready")
	limits.Register(cmd)
	return cmd
}

// RunDrill runs the drill that opts describe and prints its report.
func RunDrill(cmd *cobra.Command, opts *DrillOptions) error {
	table := opts.Format == cmdutil.FormatTable
	opts.Drill.Restore.Progress = opts.Progress.Update
	opts.Drill.OnStep = func(s drill.Step) {
		if s.Name == drill.StepRestore {
			opts.Progress.Finish()
		}
		if table {
			printStep(opts.Stdout, s)
		}
	}

	report, err := drill.Run(cmd.Context(), opts.Archive, opts.Drill)
	opts.Progress.Finish()
	if !table {
		enc := json.NewEncoder(opts.Stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(report); encErr != nil {
			return encErr
		}
		return err
	}

	if err != nil {
		if len(report.DaemonLog) > 0 {
			fmt.Fprintln(opts.Stderr, "Last lines of the scratch daemon's log:")
			for _, line := range report.DaemonLog {
				fmt.Fprintln(opts.Stderr, "  "+line)
			}
		}
		return err
	}
	total := time.Duration(report.DurationMS * float64(time.Millisecond)).Round(time.Millisecond)
	if report.Note != "" {
		fmt.Fprintf(opts.Stdout, "PASSED in %s: the backup restores and the registry boots; %s.\n", total, report.Note)
		return nil
	}
	fmt.Fprintf(opts.Stdout, "PASSED in %s: read capsule %s (%s) over MCP as an agent would.\n",
		total, report.CapsuleID, cmdutil.Pluralize(report.EntryCount, "entry", "entries"))
	return nil
}

func printStep(w io.Writer, s drill.Step) {
	status := "ok"
	text := s.Detail
	if s.Error != "" {
		status, text = "FAILED", s.Error
	}
	fmt.Fprintf(w, "%-15s %-6s %10.1f ms  %s\n", s.Name, status, s.DurationMS, text)
}
