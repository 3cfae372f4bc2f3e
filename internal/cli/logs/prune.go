package logs

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// minPruneAge is the smallest --older-than. auditlog.Prune never removes
// the current UTC day's file, and with a cutoff of a day or more a running
// daemon only writes to a removed file a record whose "ts" is over a day
// old, which it does not make.
const minPruneAge = 24 * time.Hour

// PruneOptions are the inputs of capsol logs prune.
type PruneOptions struct {
	DataDir string
	// OlderThan is the age of the lines to remove; Age is how it was
	// written, for the output.
	OlderThan time.Duration
	Age       string
	// Archive is the root directory to copy the files to before they are
	// removed; empty removes them without a copy.
	Archive string
	DryRun  bool
	Now     time.Time

	Printer  cmdutil.Printer
	Stderr   io.Writer
	Progress *cmdutil.Progress
}

// PruneResult is the JSON output of capsol logs prune. Its fields are
// stable.
type PruneResult struct {
	DataDir   string    `json:"data_dir"`
	OlderThan string    `json:"older_than"`
	Cutoff    time.Time `json:"cutoff"`
	// Archive is the archive root, empty without --archive.
	Archive string `json:"archive,omitempty"`
	DryRun  bool   `json:"dry_run"`
	// LogsChecked counts the logs looked at: the registry audit and one
	// per capsule. Logs lists those with files to prune.
	LogsChecked int         `json:"logs_checked"`
	Logs        []PrunedLog `json:"logs"`
	Files       int         `json:"files"`
	Bytes       int64       `json:"bytes"`
	Errors      []string    `json:"errors"`
}

// PrunedLog is the prune result of one log.
type PrunedLog struct {
	// Log is "registry" or a capsule id.
	Log string `json:"log"`
	Dir string `json:"dir"`
	auditlog.PruneResult
}

// NewCmdPrune returns the capsol logs prune command.
func NewCmdPrune(f *cmdutil.Factory) *cobra.Command {
	opts := &PruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune --older-than AGE [--archive DIR] [--dry-run]",
		Short: "Archive, then delete daily audit log files older than an age",
		Long: `Delete the daily log files whose every line is older than --older-than,
from every capsule's log and from the registry audit of --data-dir. This
is the retention runbook (find ... -mtime +90 -delete after archiving) in
one command, with two differences: the age is taken from the file's UTC
day, not its modification time, and the hash chain stays verifiable
because the hash of the last pruned line is recorded in chain-head.json of
each log. The current UTC day's file is never removed.

With --archive DIR each file is copied to DIR and fsynced before anything
is removed: the registry audit to DIR/audit/ and each capsule's log to
DIR/boxes/<capsule-id>/, the layout of the data directory. A file already
in the archive with the same content is kept; one with other content stops
that log's prune before anything is removed. Archiving into the same
directory each time keeps each archived log one verifiable chain. DIR must
be outside the data directory.

--dry-run lists what would be removed and changes nothing. The daemon may
keep running: it only writes to the current day's file. A progress bar is
drawn on stderr when it is a terminal.

Output: a summary on a terminal, otherwise (or with -o json)
{"data_dir", "older_than", "cutoff", "archive", "dry_run",
"logs_checked", "logs": [{"log", "dir", "files", "bytes", "archive_dir",
"head", "dry_run"}], "files", "bytes", "errors"}.

Exit status: 0 done, 1 failed for some log (the others are pruned),
2 usage error.`,
		Example: `  # See what a 90-day retention would remove
  capsol logs prune --older-than 90d --dry-run

  # Monthly cron job: archive, then prune, then verify
  capsol logs prune --older-than 90d --archive /srv/capsol-log-archive && capsol logs verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Age == "" {
				return cmdutil.UsageError("--older-than is missing: give the age of the lines to delete, such as --older-than 90d")
			}
			var err error
			if opts.OlderThan, err = ParseAge(opts.Age); err != nil {
				return cmdutil.UsageError("--older-than: %v", err)
			}
			if opts.OlderThan < minPruneAge {
				return cmdutil.UsageError("--older-than %s is under one day; the current day's file is never pruned, so give 1d or more", opts.Age)
			}
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.DataDir, opts.Now, opts.Stderr = f.DataDir(), time.Now(), f.Stderr
			if opts.Archive != "" {
				opts.Archive = cmdutil.AbsPath(opts.Archive)
			}
			if !opts.DryRun {
				opts.Progress = cmdutil.NewProgress(f.Stderr, "prune")
			}
			return RunPrune(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Age, "older-than", "", "delete the files whose lines are all older than this age: 90d, 12w or 2160h (required)")
	cmd.Flags().StringVar(&opts.Archive, "archive", "", "copy the files into this directory before deleting them")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be removed and change nothing")
	return cmd
}

// RunPrune prunes every log of opts.DataDir. A log that fails is reported
// and the others are still pruned; the error names every failed log.
func RunPrune(opts *PruneOptions) error {
	if opts.Archive != "" {
		if err := checkArchiveOutside(opts.Archive, opts.DataDir); err != nil {
			return err
		}
	}
	dirs, err := logDirs(opts.DataDir, "")
	if err != nil {
		return err
	}
	cutoff := opts.Now.Add(-opts.OlderThan)
	res := &PruneResult{
		DataDir: opts.DataDir, OlderThan: opts.Age, Cutoff: cutoff.UTC(), Archive: opts.Archive,
		DryRun: opts.DryRun, LogsChecked: len(dirs), Logs: []PrunedLog{}, Errors: []string{},
	}

	// A dry run of every log first gives the total for the progress bar,
	// and is the whole result of --dry-run.
	planned := make([]auditlog.PruneResult, len(dirs))
	var total int64
	for i, d := range dirs {
		planned[i], err = auditlog.Prune(d.Dir, cutoff, archiveDir(opts, d), true)
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", d.Name, err))
			continue
		}
		total += planned[i].Bytes
	}

	var done int64
	for i, d := range dirs {
		if len(planned[i].Files) == 0 {
			continue
		}
		pruned := planned[i]
		if !opts.DryRun {
			pruned, err = auditlog.Prune(d.Dir, cutoff, archiveDir(opts, d), false)
			done += planned[i].Bytes
			opts.Progress.Update(done, total)
			if err != nil {
				res.Errors = append(res.Errors, fmt.Sprintf("%s: %v", d.Name, err))
				continue
			}
		}
		res.Logs = append(res.Logs, PrunedLog{Log: d.Name, Dir: d.Dir, PruneResult: pruned})
		res.Files += len(pruned.Files)
		res.Bytes += pruned.Bytes
	}
	opts.Progress.Finish()

	if err := printPrune(opts, res); err != nil {
		return err
	}
	if len(res.Errors) > 0 {
		return fmt.Errorf("pruning failed for %s: %s", cmdutil.Pluralize(len(res.Errors), "log", "logs"), strings.Join(res.Errors, "; "))
	}
	return nil
}

// archiveDir returns the archive directory of one log, or "" without an
// archive.
func archiveDir(opts *PruneOptions, d logDir) string {
	if opts.Archive == "" {
		return ""
	}
	return filepath.Join(opts.Archive, d.Archive)
}

// checkArchiveOutside rejects an archive root inside the data directory,
// where capsule archives would land in the boxes themselves and the
// archive would grow every backup.
func checkArchiveOutside(archive, dataDir string) error {
	rel, err := filepath.Rel(dataDir, archive)
	outside := err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator))
	if !outside {
		return cmdutil.UsageError("--archive %s is inside the data directory %s; choose a directory outside it, such as /srv/capsol-log-archive", archive, dataDir)
	}
	return nil
}

func printPrune(opts *PruneOptions, res *PruneResult) error {
	p := opts.Printer
	if p.JSON() {
		return p.PrintJSON(res)
	}
	verb := "Deleted"
	if res.DryRun {
		verb = "Would delete"
	}
	if res.Files == 0 {
		p.Printf("No log files older than %s (before %s UTC) in %s of %s.\n", res.OlderThan, res.Cutoff.Format("2006-01-02"), cmdutil.Pluralize(res.LogsChecked, "log", "logs"), res.DataDir)
	} else {
		rows := make([][]string, 0, len(res.Logs))
		for _, l := range res.Logs {
			span := l.Files[0]
			if len(l.Files) > 1 {
				span += " … " + l.Files[len(l.Files)-1]
			}
			rows = append(rows, []string{l.Log, fmt.Sprint(len(l.Files)), cmdutil.FormatBytes(l.Bytes), span})
		}
		if err := p.Table([]string{"log", "files", "size", "days"}, rows); err != nil {
			return err
		}
		p.Printf("%s %s (%s) older than %s from %d of %s.\n", verb, cmdutil.Pluralize(res.Files, "file", "files"), cmdutil.FormatBytes(res.Bytes), res.OlderThan,
			len(res.Logs), cmdutil.Pluralize(res.LogsChecked, "log", "logs"))
		if res.Archive != "" {
			archived := "Archived them in"
			if res.DryRun {
				archived = "Would archive them in"
			}
			p.Printf("%s %s first.\n", archived, res.Archive)
		}
		if !res.DryRun {
			p.Println("The chain heads are recorded, so capsol logs verify still checks the rest.")
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintln(opts.Stderr, "Error:", e)
	}
	return nil
}
