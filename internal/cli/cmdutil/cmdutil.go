// Package cmdutil holds what the capsol command packages share: the exit
// codes and ExitError, flag values that fall back to the environment, the
// output format and progress bars. It is separate from internal/cli so that
// the packages of each noun (internal/cli/backup, ...) can use it while
// internal/cli imports them.
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/store"
)

// Exit codes of the capsol command.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitAuth        = 4
	ExitUnreachable = 5
)

// Output formats of -o, --output.
const (
	FormatTable = "table"
	FormatJSON  = "json"
)

// DefaultServer is the daemon URL used when nothing else names one.
const DefaultServer = "http://localhost:4000"

// ExitError carries an exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the wrapped error's message. A boot failure has already
// printed its JSON object and carries no error, only its exit status.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError returns an ExitError with ExitUsage for a wrong flag or
// argument.
func UsageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Resolve returns a flag's value when it was set on the command line, else
// the environment variable env when it is not empty, else def.
func Resolve(cmd *cobra.Command, flag, value, env, def string) string {
	if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
		return value
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// DefaultHome returns ~/.capsol, the default CAPSOL_HOME.
func DefaultHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".capsol"
	}
	return filepath.Join(home, ".capsol")
}

// AbsPath returns p as an absolute path, or p itself when that fails.
func AbsPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// OutputFormat checks an explicit -o value and returns it, or table on a
// terminal and json otherwise when none was given.
func OutputFormat(explicit string, w io.Writer) (string, error) {
	switch explicit {
	case FormatTable, FormatJSON:
		return explicit, nil
	case "":
		if IsTerminal(w) {
			return FormatTable, nil
		}
		return FormatJSON, nil
	}
	return "", UsageError("invalid output format %q: use table or json", explicit)
}

// ServerURL returns the daemon URL from --server, CAPSOL_URL, the lock
// file of a running daemon on dataDir, or DefaultServer, in that order.
func ServerURL(cmd *cobra.Command, flagValue, dataDir string) string {
	if url := Resolve(cmd, "server", flagValue, "CAPSOL_URL", ""); url != "" {
		return strings.TrimRight(url, "/")
	}
	if info, held, err := store.ReadLock(dataDir); err == nil && held && info.URL != "" {
		return info.URL
	}
	return DefaultServer
}

// AdminKey returns the admin key from --key, CAPSOL_ADMIN_KEY or
// <home>/admin.key, in that order.
func AdminKey(cmd *cobra.Command, flagValue, home string) (string, error) {
	if key := Resolve(cmd, "key", flagValue, "CAPSOL_ADMIN_KEY", ""); key != "" {
		return key, nil
	}
	path := filepath.Join(home, "admin.key")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", &ExitError{Code: ExitAuth, Err: fmt.Errorf("no admin key: --key and CAPSOL_ADMIN_KEY are unset and %s does not exist; pass --key, export CAPSOL_ADMIN_KEY, or set --home to the daemon's CAPSOL_HOME", path)}
	}
	if err != nil {
		return "", &ExitError{Code: ExitAuth, Err: fmt.Errorf("read admin key: %w", err)}
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		return "", &ExitError{Code: ExitAuth, Err: fmt.Errorf("admin key file %s is empty", path)}
	}
	return key, nil
}

// ParseSize parses sizes such as 50MB, 1GB, 512KiB or 1048576: KB, MB, GB
// and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		factor int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	value := strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(value), strings.ToUpper(u.suffix)) {
			value, factor = strings.TrimSpace(value[:len(value)-len(u.suffix)]), u.factor
			break
		}
	}
	n, err := strconv.ParseFloat(value, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid size %q: use a positive number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB, such as 1GB", s)
	}
	return int64(n * float64(factor)), nil
}

// FormatBytes returns n in decimal units, such as "50.1 MB".
func FormatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	value, exp := float64(n)/unit, 0
	for value >= unit && exp < 4 {
		value /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", value, "kMGTP"[exp])
}

// Pluralize returns n followed by singular when n is 1 and by plural
// otherwise, such as "1 file" and "2 files".
func Pluralize(n int, singular, plural string) string {
	if n == 1 {
		return "1 " + singular
	}
	return strconv.Itoa(n) + " " + plural
}
