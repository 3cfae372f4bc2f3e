// Package logs holds capsol logs and its show, prune and verify
// subcommands. show reads a capsule's audit log through the API; prune and
// verify work on the data directory's files: every capsule's log under
// boxes/<id>/.capsol/logs/ and the registry audit under audit/.
package logs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

// RegistryLog names the registry audit among the logs of a data
// directory.
const RegistryLog = "registry"

// NewCmdLogs returns the capsol logs command.
func NewCmdLogs(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show, prune and verify the audit logs",
		Long: `Every MCP request to a capsule is one JSON line in the capsule's audit log,
one file per UTC day under boxes/<id>/.capsol/logs/; operator and
admin-key actions go to the registry audit under audit/. Each line carries
"prev", the SHA-256 of the line before it, so an edited or deleted line
breaks the chain.

show reads a capsule's log through the daemon. prune and verify work on
the files of --data-dir.`,
		Example: `  capsol logs show cap_01jc... --since 1h --follow
  capsol logs prune --older-than 90d --archive /srv/capsol-log-archive
  capsol logs verify`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdShow(f), NewCmdPrune(f), NewCmdVerify(f))
	return cmd
}

// logDir is one audit log of a data directory.
type logDir struct {
	// Name is RegistryLog or a capsule id.
	Name string
	Dir  string
	// Archive is the directory of this log inside an archive root, which
	// mirrors the data directory: audit/ and boxes/<id>/.
	Archive string
}

// logDirs returns the registry audit and every capsule's log of dataDir,
// the registry first and then the capsules by id. With only set, it
// returns that capsule's log alone, or an ExitNotFound error when the
// capsule has no box. Boxes of deleted capsules, under boxes/.deleted/,
// are left out.
func logDirs(dataDir, only string) ([]logDir, error) {
	if _, err := os.Stat(filepath.Join(dataDir, store.MetaFile)); err != nil {
		return nil, fmt.Errorf("%s is not a capsol data directory (%v); pass --data-dir or set CAPSOL_DATA_DIR", dataDir, err)
	}
	capsule := func(id string) logDir {
		return logDir{Name: id, Dir: filepath.Join(dataDir, store.BoxesDir, id, ".capsol", "logs"), Archive: filepath.Join(store.BoxesDir, id)}
	}

	if only != "" {
		if !ids.Valid(ids.Capsule, only) {
			return nil, cmdutil.UsageError("invalid capsule id %q: capsule ids are cap_ and 26 lowercase letters and digits", only)
		}
		if _, err := os.Stat(filepath.Join(dataDir, store.BoxesDir, only)); err != nil {
			return nil, &cmdutil.ExitError{Code: cmdutil.ExitNotFound, Err: fmt.Errorf("capsule %s has no box in %s", only, dataDir)}
		}
		return []logDir{capsule(only)}, nil
	}

	dirs := []logDir{{Name: RegistryLog, Dir: filepath.Join(dataDir, store.AuditDir), Archive: store.AuditDir}}
	entries, err := os.ReadDir(filepath.Join(dataDir, store.BoxesDir))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("list the capsule boxes: %w", err)
	}
	var capsuleIDs []string
	for _, e := range entries {
		if e.IsDir() && ids.Valid(ids.Capsule, e.Name()) {
			capsuleIDs = append(capsuleIDs, e.Name())
		}
	}
	sort.Strings(capsuleIDs)
	for _, id := range capsuleIDs {
		dirs = append(dirs, capsule(id))
	}
	return dirs, nil
}

// ParseAge parses an age such as 90d, 12w, 36h or 1h30m: d is 24 hours
// and w 7 days; anything else is a Go duration.
func ParseAge(s string) (time.Duration, error) {
	value := strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if number, ok := strings.CutSuffix(value, suffix); ok {
			n, err := strconv.Atoi(number)
			if err != nil || n <= 0 {
				break
			}
			// time.Duration holds about 292 years; a larger age would
			// overflow into a cutoff in the recent past.
			if int64(n) > int64(math.MaxInt64/unit) {
				return 0, fmt.Errorf("invalid age %q: at most %d%s (about 290 years)", s, int64(math.MaxInt64/unit), suffix)
			}
			return time.Duration(n) * unit, nil
		}
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid age %q: use a positive number of days (90d), weeks (12w) or hours (36h)", s)
	}
	return d, nil
}
