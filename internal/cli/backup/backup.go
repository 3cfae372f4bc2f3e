// Package backup holds the capsol backup command and its verify
// subcommand.
package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	capbackup "github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// Sources of a backup in the JSON result.
const (
	sourceDataDir = "data-dir"
	sourceServer  = "server"
)

// Options are the inputs of capsol backup.
type Options struct {
	// Output is the archive path, "-" for stdout, or "" for
	// capsol-backup-YYYYmmdd-HHMMSS.tgz in the current directory.
	Output     string
	Force      bool
	FromServer bool
	DataDir    string
	Server     string // daemon URL, used with FromServer
	AdminKey   string // used with FromServer
	Format     string // "table" or "json"

	Stdout, Stderr io.Writer
	// Progress draws the progress bar; nil draws none.
	Progress *cmdutil.Progress
	// HTTPClient downloads with FromServer; nil means a client with a
	// response header timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// Result is the JSON output of capsol backup. Its fields are stable.
type Result struct {
	File         string   `json:"file"`
	Source       string   `json:"source"`
	DataDir      string   `json:"data_dir,omitempty"`
	Server       string   `json:"server,omitempty"`
	Files        int      `json:"files"`
	Bytes        int64    `json:"bytes"`
	ArchiveBytes int64    `json:"archive_bytes"`
	SHA256       string   `json:"sha256"`
	DurationMS   int64    `json:"duration_ms"`
	Warnings     []string `json:"warnings"`
}

// NewCmdBackup returns the capsol backup command with its verify
// subcommand.
func NewCmdBackup() *cobra.Command {
	opts := &Options{}
	var format, server, key, home string
	cmd := &cobra.Command{
		Use:   "backup [-o FILE] [--from-server]",
		Short: "Write a backup archive of the data directory",
		Long: `Write a gzip-compressed tar archive of the data directory under its own
base name, the same format as the manual runbook

  tar -czf FILE -C "$(dirname "$CAPSOL_DATA_DIR")" "$(basename "$CAPSOL_DATA_DIR")"

so capsol restore and tar -xzf each restore the other's archives. The
archive leaves out capsold.lock and ends with BACKUP-MANIFEST.json, which
lists every file with its size and SHA-256 for capsol backup verify.

By default the archive is read from --data-dir. While a daemon runs on it,
each file is whole but files written during the backup may be newer than
others; --from-server asks the daemon for GET /v1/backup instead, a snapshot
taken under a brief write barrier and consistent across files. It needs the
admin key (--key, CAPSOL_ADMIN_KEY or $CAPSOL_HOME/admin.key) and finds the
daemon by --server, CAPSOL_URL, the lock file of --data-dir, or
http://localhost:4000.

The archive is written to a temporary file beside FILE and renamed when
complete. The admin key and the secret key are not in the archive: store
them apart from it.

Output: a summary on a terminal, otherwise (or with --format json) one JSON
object: {"file", "source": "data-dir"|"server", "data_dir", "server",
"files", "bytes", "archive_bytes", "sha256", "duration_ms", "warnings"}.
A progress bar is drawn on stderr when it is a terminal.

Exit status: 0 written, 1 failed, 2 usage error, 4 admin key rejected,
5 daemon unreachable (--from-server).`,
		Example: `  # Back up the data directory into capsol-backup-YYYYmmdd-HHMMSS.tgz
  capsol backup --data-dir /var/lib/capsol/registry-data

  # Consistent snapshot from the running daemon
  capsol backup --from-server -o /backups/capsol-$(date +%F).tgz

  # Stream to another host
  capsol backup -o - | ssh backup-host 'cat > capsol.tgz'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.DataDir = cmdutil.AbsPath(cmdutil.Resolve(cmd, "data-dir", opts.DataDir, "CAPSOL_DATA_DIR", "./registry-data"))
			var err error
			if opts.Format, err = cmdutil.OutputFormat(format, cmd.OutOrStdout()); err != nil {
				return err
			}
			if opts.FromServer {
				opts.Server = cmdutil.ServerURL(cmd, server, opts.DataDir)
				home = cmdutil.Resolve(cmd, "home", home, "CAPSOL_HOME", cmdutil.DefaultHome())
				if opts.AdminKey, err = cmdutil.AdminKey(cmd, key, home); err != nil {
					return err
				}
			}
			opts.Stdout, opts.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			opts.Progress = cmdutil.NewProgress(cmd.ErrOrStderr(), "backup")
			return Run(cmd.Context(), opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.Output, "output", "o", "", `archive file to write, "-" for stdout (default capsol-backup-YYYYmmdd-HHMMSS.tgz)`)
	flags.BoolVar(&opts.Force, "force", false, "replace the output file when it exists")
	flags.BoolVar(&opts.FromServer, "from-server", false, "download a consistent snapshot from the daemon's GET /v1/backup")
	flags.StringVar(&opts.DataDir, "data-dir", "", "data directory (env CAPSOL_DATA_DIR, default ./registry-data)")
	flags.StringVar(&server, "server", "", "daemon URL for --from-server (env CAPSOL_URL, default: the lock file's URL, else http://localhost:4000)")
	flags.StringVar(&key, "key", "", "admin key for --from-server (env CAPSOL_ADMIN_KEY, default $CAPSOL_HOME/admin.key)")
	flags.StringVar(&home, "home", "", "directory of admin.key (env CAPSOL_HOME, default ~/.capsol)")
	flags.StringVar(&format, "format", "", "result format: table or json (default table on a terminal, json otherwise)")

	cmd.AddCommand(NewCmdVerify())
	return cmd
}

// Run writes the backup that opts describe.
func Run(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	started := now()
	toStdout := opts.Output == "-"
	path := opts.Output
	if path == "" {
		path = "capsol-backup-" + started.Format("20060102-150405") + ".tgz"
	}

	var out *output
	var err error
	if !toStdout && !opts.FromServer {
		if err := checkOutsideDataDir(path, opts.DataDir); err != nil {
			return err
		}
	}
	if toStdout {
		out = &output{w: opts.Stdout}
	} else {
		if path, err = filepath.Abs(path); err != nil {
			return fmt.Errorf("resolve output file: %w", err)
		}
		if out, err = createOutput(path, opts.Force); err != nil {
			return err
		}
		defer out.discard()
	}
	hash := sha256.New()
	counted := &countingWriter{w: io.MultiWriter(out.w, hash)}

	res := &Result{File: path, Warnings: []string{}}
	if toStdout {
		res.File = "-"
	}
	if opts.FromServer {
		err = download(ctx, opts, counted, res)
	} else {
		err = writeLocal(opts, counted, res)
	}
	opts.Progress.Finish()
	if err != nil {
		return err
	}
	if !toStdout {
		if err := out.commit(); err != nil {
			return err
		}
	}

	res.ArchiveBytes = counted.n
	res.SHA256 = hex.EncodeToString(hash.Sum(nil))
	res.DurationMS = now().Sub(started).Milliseconds()
	if toStdout {
		return nil
	}
	return printResult(opts, res)
}

// checkOutsideDataDir rejects an output file inside the data directory,
// which the backup would archive while it is being written.
func checkOutsideDataDir(path, dataDir string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("resolve output file: %w", err)
	}
	rel, err := filepath.Rel(dataDir, abs)
	if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return cmdutil.UsageError("the output file %s is inside the data directory %s, which the backup reads; write it elsewhere with -o", abs, dataDir)
	}
	return nil
}

func writeLocal(opts *Options, w io.Writer, res *Result) error {
	res.Source, res.DataDir = sourceDataDir, opts.DataDir
	written, err := capbackup.Write(w, opts.DataDir, capbackup.Options{
		Progress: opts.Progress.Update,
		Warn:     func(message string) { warn(opts, message) },
	})
	if err != nil {
		return err
	}
	res.Files, res.Bytes, res.Warnings = written.Files, written.Bytes, append(res.Warnings, written.Warnings...)
	return nil
}

// download streams GET /v1/backup into w and verifies the archive on the
// way, so a cut or damaged download is never reported as a backup.
func download(ctx context.Context, opts *Options, w io.Writer, res *Result) error {
	res.Source, res.Server = sourceServer, opts.Server
	url := opts.Server + "/v1/backup"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return cmdutil.UsageError("invalid server URL %q: %v", opts.Server, err)
	}
	req.Header.Set("Authorization", "Bearer "+opts.AdminKey)
	hc := opts.HTTPClient
	if hc == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.ResponseHeaderTimeout = 5 * time.Minute
		hc = &http.Client{Transport: transport}
	}

	resp, err := hc.Do(req)
	if err != nil {
		return unreachable(opts.Server, err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp, url); err != nil {
		return err
	}

	body := io.TeeReader(resp.Body, w)
	report, verifyErr := capbackup.VerifyReader(body, capbackup.VerifyOptions{Progress: opts.Progress.Update})
	// The tar end marker can come before the end of the gzip stream:
	// copy the rest so the file holds every byte the daemon sent.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("download from %s ended early: %w; run the backup again", url, err)
	}
	if verifyErr != nil {
		return fmt.Errorf("the archive from %s failed verification: %w", url, verifyErr)
	}
	res.Files, res.Bytes = report.Files, report.Bytes
	return nil
}

func checkResponse(resp *http.Response, url string) error {
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/gzip" {
			return fmt.Errorf("GET %s returned Content-Type %q, expected application/gzip; check --server", url, ct)
		}
		return nil
	}
	var body struct {
		Error     string `json:"error"`
		ErrorCode string `json:"error_code"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, &body) != nil || body.Error == "" {
		body.Error = http.StatusText(resp.StatusCode)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return &cmdutil.ExitError{Code: cmdutil.ExitAuth, Err: fmt.Errorf("GET %s was rejected (HTTP %d %s): %s; pass the daemon's admin key with --key or CAPSOL_ADMIN_KEY",
			url, resp.StatusCode, body.ErrorCode, body.Error)}
	case http.StatusNotFound:
		return fmt.Errorf("GET %s returned HTTP 404 (%s): this daemon serves no backups; run capsol backup without --from-server on the daemon's host", url, body.Error)
	}
	return fmt.Errorf("GET %s failed with HTTP %d %s: %s", url, resp.StatusCode, body.ErrorCode, body.Error)
}

func unreachable(server string, err error) error {
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) {
		return &cmdutil.ExitError{Code: cmdutil.ExitUnreachable,
			Err: fmt.Errorf("cannot reach the daemon at %s: %w; start it (capsol serve) or pass --server", server, err)}
	}
	return &cmdutil.ExitError{Code: cmdutil.ExitUnreachable, Err: fmt.Errorf("request to %s failed: %w", server, err)}
}

func warn(opts *Options, message string) {
	fmt.Fprintln(opts.Stderr, "warning:", message)
}

func printResult(opts *Options, res *Result) error {
	if opts.Format == cmdutil.FormatJSON {
		enc := json.NewEncoder(opts.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	from := res.DataDir
	if res.Source == sourceServer {
		from = res.Server + " (snapshot)"
	}
	fmt.Fprintf(opts.Stdout, "Wrote %s from %s: %s, %s of data, %s archive, in %s\n",
		res.File, from, cmdutil.Pluralize(res.Files, "file", "files"), cmdutil.FormatBytes(res.Bytes), cmdutil.FormatBytes(res.ArchiveBytes),
		(time.Duration(res.DurationMS) * time.Millisecond).String())
	fmt.Fprintf(opts.Stdout, "sha256 %s\n", res.SHA256)
	fmt.Fprintln(opts.Stdout, "Store it apart from the admin key and the secret key, which it does not contain. Check it with: capsol backup verify "+res.File)
	return nil
}

// output is an archive file being written: a temporary file beside the
// target, renamed over it by commit.
type output struct {
	w    io.Writer
	file *os.File
	path string
	done bool
}

func createOutput(path string, force bool) (*output, error) {
	if _, err := os.Stat(path); err == nil && !force {
		return nil, fmt.Errorf("%s exists; choose another file with -o or pass --force to replace it", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-")
	if err != nil {
		return nil, fmt.Errorf("create the output file beside %s: %w", path, err)
	}
	return &output{w: f, file: f, path: path}, nil
}

// commit makes the archive durable and gives it its final name.
func (o *output) commit() error {
	if err := o.file.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	if err := o.file.Close(); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	if err := os.Rename(o.file.Name(), o.path); err != nil {
		return fmt.Errorf("rename the finished archive to %s: %w", o.path, err)
	}
	o.done = true
	return nil
}

// discard removes the temporary file unless commit ran.
func (o *output) discard() {
	if o.done {
		return
	}
	_ = o.file.Close()
	_ = os.Remove(o.file.Name())
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
