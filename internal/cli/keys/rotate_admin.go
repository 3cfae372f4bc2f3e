package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

// RotateAdminOptions are the inputs of capsol keys rotate-admin.
type RotateAdminOptions struct {
	// Home holds admin.key; DataDir's lock file names the daemon to
	// signal; Server is where the new key is checked.
	Home    string
	DataDir string
	Server  string
	// Print prints the new key instead of writing it, for daemons that
	// read CAPSOL_ADMIN_KEY.
	Print bool
	// Wait bounds how long the daemon may take to accept the new key
	// after SIGHUP.
	Wait time.Duration
	// EnvKeySet is true when CAPSOL_ADMIN_KEY is set in this environment.
	EnvKeySet bool

	HTTPClient *http.Client
	// Signal sends SIGHUP to a process; nil means syscall.Kill.
	Signal  func(pid int) error
	Printer cmdutil.Printer
	Stderr  io.Writer
}

// RotateAdminResult is the JSON output of capsol keys rotate-admin. Its
// fields are stable.
type RotateAdminResult struct {
	// KeyFile is the file written, empty with --print.
	KeyFile string `json:"key_file,omitempty"`
	// Key is the new key, only with --print.
	Key string `json:"key,omitempty"`
	// Daemon is the daemon found in the lock file of the data directory,
	// null when none runs there.
	Daemon *SignalledDaemon `json:"daemon"`
	// Verified is true when GET /v1/capsules accepted the new key.
	Verified bool `json:"verified"`
	// OldKeyRejected is true when the old key is refused after the
	// reload, null when it was not checked.
	OldKeyRejected *bool    `json:"old_key_rejected"`
	NextSteps      []string `json:"next_steps"`
}

// SignalledDaemon is the daemon that was sent SIGHUP.
type SignalledDaemon struct {
	PID       int    `json:"pid"`
	URL       string `json:"url"`
	Signalled bool   `json:"signalled"`
	Error     string `json:"error,omitempty"`
}

// NewCmdRotateAdmin returns the capsol keys rotate-admin command.
func NewCmdRotateAdmin(f *cmdutil.Factory) *cobra.Command {
	opts := &RotateAdminOptions{}
	cmd := &cobra.Command{
		Use:   "rotate-admin [--print]",
		Short: "Generate a new admin key and make the running daemon use it without a restart",
		Long: `Generate a new checksummed admin key (capsol_admin_…), write it to
$CAPSOL_HOME/admin.key (atomically, mode 0600), and reload the daemon: the
daemon that holds the lock of --data-dir is sent SIGHUP, which makes it
read the key file again. The command then checks that GET /v1/capsules
accepts the new key and refuses the old one. Old break-glass dashboard
sessions end at once, because their cookie is the SHA-256 of the old key.

This replaces steps 1 to 3 of the "Rotate the admin key" runbook. Step 4
stays yours: update CI, scripts and anything else that sends the old key.

A daemon that reads CAPSOL_ADMIN_KEY from its environment cannot reload
it. For it, --print prints the new key and writes nothing: set it as
CAPSOL_ADMIN_KEY where the daemon runs (the EnvironmentFile of the systemd
unit, the container's secret) and restart the daemon.

Output: what was done and the next steps on a terminal, otherwise (or with
-o json) {"key_file", "key" (only with --print), "daemon": {"pid", "url",
"signalled", "error"} or null, "verified", "old_key_rejected",
"next_steps"}. The key itself is printed only with --print.

Exit status: 0 rotated (and accepted by a running daemon), 1 failed,
2 usage error, 4 the daemon still rejects the new key.`,
		Example: `  # The daemon runs on this host with the generated key file
  capsol keys rotate-admin --data-dir /var/lib/capsol/registry-data

  # The daemon reads CAPSOL_ADMIN_KEY from /etc/capsol/capsol.env
  sudo sed -i "s/^CAPSOL_ADMIN_KEY=.*/CAPSOL_ADMIN_KEY=$(capsol keys rotate-admin --print -o json | jq -r .key)/" /etc/capsol/capsol.env
  sudo systemctl restart capsol`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.Home, opts.DataDir, opts.Server = f.Home(), f.DataDir(), f.ServerURL()
			opts.EnvKeySet = os.Getenv("CAPSOL_ADMIN_KEY") != ""
			opts.HTTPClient, opts.Stderr = &http.Client{Timeout: 5 * time.Second}, f.Stderr
			return RunRotateAdmin(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Print, "print", false, "print the new key and write nothing, for a daemon that reads CAPSOL_ADMIN_KEY")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 5*time.Second, "how long to wait for the daemon to accept the new key")
	return cmd
}

// RunRotateAdmin rotates the admin key as opts describe and prints the
// result.
func RunRotateAdmin(ctx context.Context, opts *RotateAdminOptions) error {
	newKey := secret.NewToken(secret.PrefixAdmin)
	res := &RotateAdminResult{NextSteps: []string{}}

	if opts.Print {
		res.Key = newKey
		res.NextSteps = append(res.NextSteps,
			"Set CAPSOL_ADMIN_KEY to the new key where the daemon runs (its EnvironmentFile or container secret) and restart it; SIGHUP does not reload an environment variable.",
			"Update CI, scripts and anything else that sends the old key to /v1 (such as capsol grants --key).")
		return printRotateAdmin(opts.Printer, res)
	}

	if opts.EnvKeySet {
		fmt.Fprintln(opts.Stderr, "warning: CAPSOL_ADMIN_KEY is set in this environment. A daemon that reads it ignores admin.key; for such a daemon use --print, set the new key in its environment and restart it.")
	}
	path := filepath.Join(opts.Home, keys.AdminKeyFile)
	oldKey := readKeyFile(path)
	if err := fsutil.MkdirAll(opts.Home); err != nil {
		return fmt.Errorf("create %s: %w; create it with mkdir -p %s && chmod 700 %s, or pass --home", opts.Home, err, opts.Home, opts.Home)
	}
	if err := fsutil.WriteFile(path, []byte(newKey+"\n")); err != nil {
		return fmt.Errorf("write the new admin key: %w", err)
	}
	res.KeyFile = path

	info, held, err := store.ReadLock(opts.DataDir)
	if err != nil || !held || info.PID <= 0 {
		res.NextSteps = append(res.NextSteps,
			fmt.Sprintf("No daemon holds the lock of %s, so none was reloaded. A daemon started later reads the new key; a daemon on another data directory reloads with systemctl reload capsol, or kill -HUP <pid>.", opts.DataDir),
			"Update CI, scripts and anything else that sends the old key to /v1 (such as capsol grants --key).")
		return printRotateAdmin(opts.Printer, res)
	}

	res.Daemon = &SignalledDaemon{PID: info.PID, URL: info.URL}
	signal := opts.Signal
	if signal == nil {
		signal = func(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
	}
	if err := signal(info.PID); err != nil {
		res.Daemon.Error = err.Error()
		res.NextSteps = append(res.NextSteps, fmt.Sprintf("Reload the daemon yourself: sudo kill -HUP %d, or systemctl reload capsol.", info.PID))
		if printErr := printRotateAdmin(opts.Printer, res); printErr != nil {
			return printErr
		}
		return fmt.Errorf("wrote %s but could not send SIGHUP to the daemon (pid %d): %w; reload it with sudo kill -HUP %d or systemctl reload capsol", path, info.PID, err, info.PID)
	}
	res.Daemon.Signalled = true

	verifyErr := verifyRotation(ctx, opts, res, newKey, oldKey)
	if verifyErr == nil {
		res.NextSteps = append(res.NextSteps, "Update CI, scripts and anything else that sends the old key to /v1 (such as capsol grants --key).")
	}
	if err := printRotateAdmin(opts.Printer, res); err != nil {
		return err
	}
	return verifyErr
}

// verifyRotation waits until the daemon accepts newKey, then checks that
// it refuses oldKey. It returns an ExitAuth error when newKey is still
// refused after opts.Wait.
func verifyRotation(ctx context.Context, opts *RotateAdminOptions, res *RotateAdminResult, newKey, oldKey string) error {
	// The daemon reloads in its own goroutine after the signal, so the
	// first requests may still see the old key.
	deadline := time.Now().Add(opts.Wait)
	var lastErr error
	for {
		_, lastErr = client.New(opts.Server, newKey, opts.HTTPClient).ListCapsules(ctx, "", "")
		if lastErr == nil {
			res.Verified = true
			break
		}
		var apiErr *client.APIError
		if !errors.As(lastErr, &apiErr) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	var apiErr *client.APIError
	if !res.Verified && !errors.As(lastErr, &apiErr) {
		return fmt.Errorf("check the new admin key at %s: %w", opts.Server, lastErr)
	}
	if !res.Verified {
		res.NextSteps = append(res.NextSteps,
			"The daemon did not accept the new key. If it reads CAPSOL_ADMIN_KEY, run capsol keys rotate-admin --print, set the key in its environment and restart it; otherwise check that --home is the daemon's CAPSOL_HOME and read its log for \"admin key reload failed\".")
		return &cmdutil.ExitError{Code: cmdutil.ExitAuth, Err: fmt.Errorf("the daemon at %s (pid %d) still rejects the new admin key %s after SIGHUP: %w",
			opts.Server, res.Daemon.PID, opts.Wait, lastErr)}
	}

	if oldKey != "" && oldKey != newKey {
		_, err := client.New(opts.Server, oldKey, opts.HTTPClient).ListCapsules(ctx, "", "")
		rejected := errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized
		res.OldKeyRejected = &rejected
		if !rejected {
			return fmt.Errorf("the daemon at %s accepts the new admin key but also still the old one (%v); restart it: systemctl restart capsol", opts.Server, err)
		}
	}
	return nil
}

// readKeyFile returns the trimmed content of path, or "" when it cannot be
// read.
func readKeyFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func printRotateAdmin(p cmdutil.Printer, res *RotateAdminResult) error {
	if p.JSON() {
		return p.PrintJSON(res)
	}
	if res.Key != "" {
		p.Println("New admin key, shown only this once:")
		p.Printf("  %s\n", p.Bold(res.Key))
	} else {
		p.Printf("Wrote a new admin key to %s (mode 0600).\n", res.KeyFile)
	}
	if d := res.Daemon; d != nil {
		switch {
		case !d.Signalled:
			p.Printf("Could not signal the daemon (pid %d): %s\n", d.PID, d.Error)
		case res.Verified:
			p.Printf("Reloaded the daemon (pid %d) with SIGHUP; %s accepts the new key.\n", d.PID, d.URL)
		default:
			p.Printf("Sent SIGHUP to the daemon (pid %d), but it still rejects the new key.\n", d.PID)
		}
	}
	if res.OldKeyRejected != nil {
		if *res.OldKeyRejected {
			p.Println("The old key is rejected now, and break-glass dashboard sessions made with it have ended.")
		} else {
			p.Println("warning: the old key is still accepted.")
		}
	}
	if len(res.NextSteps) > 0 {
		p.Println("\nNext steps:")
		for i, step := range res.NextSteps {
			p.Printf("  %d. %s\n", i+1, step)
		}
	}
	return nil
}
