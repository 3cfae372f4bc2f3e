package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	capbackup "github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/store"
)

const testAdminKey = "capsol-test-admin-key-0123456789"

func newRegistry(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "registry-data")
	if _, err := genregistry.Generate(genregistry.Options{Dir: dir, Capsules: 3, Size: 200 << 10, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newOptions(dataDir, output string) (*Options, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Options{
		Output: output, DataDir: dataDir, Format: cmdutil.FormatJSON,
		Stdout: &stdout, Stderr: &stderr,
	}, &stdout, &stderr
}

func decodeResult(t *testing.T, stdout *bytes.Buffer) Result {
	t.Helper()
	var res Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, stdout)
	}
	return res
}

func TestBackupWritesDefaultName(t *testing.T) {
	dataDir := newRegistry(t)
	t.Chdir(t.TempDir())
	opts, stdout, _ := newOptions(dataDir, "")
	opts.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local) }

	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("Run: %v", err)
	}

	res := decodeResult(t, stdout)
	if filepath.Base(res.File) != "capsol-backup-20260102-030405.tgz" {
		t.Errorf("file %q, want capsol-backup-20260102-030405.tgz", res.File)
	}
	report, err := capbackup.Verify(res.File)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if res.Source != sourceDataDir || res.Files != report.Files || res.Bytes != report.Bytes || res.Files == 0 {
		t.Errorf("result %+v does not match the archive's %d files, %d bytes", res, report.Files, report.Bytes)
	}
	info, err := os.Stat(res.File)
	if err != nil || info.Size() != res.ArchiveBytes || len(res.SHA256) != 64 {
		t.Errorf("archive_bytes %d sha256 %q, file: %v", res.ArchiveBytes, res.SHA256, err)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 1 {
		t.Errorf("the working directory has %d entries, want only the archive", len(entries))
	}
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	dataDir := newRegistry(t)
	path := filepath.Join(t.TempDir(), "b.tgz")
	if err := os.WriteFile(path, []byte("older backup"), 0o600); err != nil {
		t.Fatal(err)
	}

	opts, _, _ := newOptions(dataDir, path)
	err := Run(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("got %v, want an error that mentions --force", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "older backup" {
		t.Error("the existing file was changed")
	}

	opts, _, _ = newOptions(dataDir, path)
	opts.Force = true
	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("Run with Force: %v", err)
	}
	if _, err := capbackup.Verify(path); err != nil {
		t.Errorf("Verify after --force: %v", err)
	}
}

func TestBackupToStdout(t *testing.T) {
	dataDir := newRegistry(t)
	opts, stdout, _ := newOptions(dataDir, "-")

	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if _, err := capbackup.VerifyReader(bytes.NewReader(stdout.Bytes()), capbackup.VerifyOptions{}); err != nil {
		t.Errorf("stdout is not a valid archive: %v", err)
	}
}

func TestBackupFailureLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tgz")
	opts, _, _ := newOptions(filepath.Join(dir, "missing"), path)

	err := Run(context.Background(), opts)

	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v, want a missing data directory error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestBackupTableOutput(t *testing.T) {
	dataDir := newRegistry(t)
	path := filepath.Join(t.TempDir(), "b.tgz")
	opts, stdout, _ := newOptions(dataDir, path)
	opts.Format = cmdutil.FormatTable

	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("Run: %v", err)
	}

	for _, want := range []string{"Wrote " + path, "sha256 ", "capsol backup verify " + path} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, stdout.String())
		}
	}
}

// snapshotServer serves GET /v1/backup like the daemon: the admin key as
// bearer token, then backup.Snapshot of dataDir.
func snapshotServer(t *testing.T, dataDir string, cut bool) *httptest.Server {
	t.Helper()
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/backup" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no route for GET ` + r.URL.Path + `","error_code":"not_found"}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testAdminKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"admin key does not match","error_code":"invalid_token"}`))
			return
		}
		w.Header().Set("Content-Type", "application/gzip")
		var archive bytes.Buffer
		if _, err := capbackup.Snapshot(&archive, st, capbackup.Options{}); err != nil {
			t.Errorf("Snapshot: %v", err)
		}
		data := archive.Bytes()
		if cut {
			// Send half the archive, then drop the connection.
			_, _ = w.Write(data[:len(data)/2])
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBackupFromServer(t *testing.T) {
	dataDir := newRegistry(t)
	srv := snapshotServer(t, dataDir, false)
	path := filepath.Join(t.TempDir(), "b.tgz")
	opts, stdout, _ := newOptions(dataDir, path)
	opts.FromServer, opts.Server, opts.AdminKey = true, srv.URL, testAdminKey

	if err := Run(context.Background(), opts); err != nil {
		t.Fatalf("Run: %v", err)
	}

	res := decodeResult(t, stdout)
	if res.Source != sourceServer || res.Server != srv.URL || res.Files == 0 {
		t.Errorf("result %+v", res)
	}
	report, err := capbackup.Verify(path)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if report.Files != res.Files {
		t.Errorf("archive has %d files, result says %d", report.Files, res.Files)
	}
}

func TestBackupFromServerCutStream(t *testing.T) {
	dataDir := newRegistry(t)
	srv := snapshotServer(t, dataDir, true)
	dir := t.TempDir()
	opts, _, _ := newOptions(dataDir, filepath.Join(dir, "b.tgz"))
	opts.FromServer, opts.Server, opts.AdminKey = true, srv.URL, testAdminKey

	err := Run(context.Background(), opts)

	if err == nil {
		t.Fatal("Run accepted a cut download")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestBackupFromServerWrongKey(t *testing.T) {
	dataDir := newRegistry(t)
	srv := snapshotServer(t, dataDir, false)
	opts, _, _ := newOptions(dataDir, filepath.Join(t.TempDir(), "b.tgz"))
	opts.FromServer, opts.Server, opts.AdminKey = true, srv.URL, "capsol-wrong-admin-key-000000000"

	err := Run(context.Background(), opts)

	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != cmdutil.ExitAuth {
		t.Fatalf("got %v, want exit status %d", err, cmdutil.ExitAuth)
	}
	if !strings.Contains(err.Error(), "admin key does not match") || !strings.Contains(err.Error(), "--key") {
		t.Errorf("error %q does not pass on the server's reason and the fix", err)
	}
}

func TestBackupFromServerWithoutRoute(t *testing.T) {
	dataDir := newRegistry(t)
	srv := snapshotServer(t, dataDir, false)
	opts, _, _ := newOptions(dataDir, filepath.Join(t.TempDir(), "b.tgz"))
	opts.FromServer, opts.Server, opts.AdminKey = true, srv.URL+"/prefix", testAdminKey

	err := Run(context.Background(), opts)

	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "without --from-server") {
		t.Fatalf("got %v, want a 404 error with the fix", err)
	}
}

func TestBackupFromServerUnreachable(t *testing.T) {
	dataDir := newRegistry(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	opts, _, _ := newOptions(dataDir, filepath.Join(t.TempDir(), "b.tgz"))
	opts.FromServer, opts.Server, opts.AdminKey = true, closed, testAdminKey

	err = Run(context.Background(), opts)

	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != cmdutil.ExitUnreachable {
		t.Fatalf("got %v, want exit status %d", err, cmdutil.ExitUnreachable)
	}
	if !strings.Contains(err.Error(), closed) {
		t.Errorf("error %q does not name %s", err, closed)
	}
}

func TestVerifyReportsProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.tgz")
	if err := os.WriteFile(path, []byte("not an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer

	err := RunVerify(&VerifyOptions{Archive: path, Format: cmdutil.FormatJSON, Stdout: &stdout})

	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != cmdutil.ExitFailure {
		t.Fatalf("got %v, want exit status 1", err)
	}
	var res struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if res.OK || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], "not a gzip-compressed archive") {
		t.Errorf("result %+v", res)
	}
}

func TestVerifyTableOutput(t *testing.T) {
	dataDir := newRegistry(t)
	path := filepath.Join(t.TempDir(), "b.tgz")
	opts, _, _ := newOptions(dataDir, path)
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer

	if err := RunVerify(&VerifyOptions{Archive: path, Format: cmdutil.FormatTable, Stdout: &stdout}); err != nil {
		t.Fatalf("RunVerify: %v", err)
	}

	for _, want := range []string{"OK  " + path, "data directory registry-data/", "sizes and SHA-256 match the manifest"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, stdout.String())
		}
	}
}

func TestBackupRejectsOutputInsideDataDir(t *testing.T) {
	dataDir := newRegistry(t)
	opts, _, _ := newOptions(dataDir, filepath.Join(dataDir, "boxes", "b.tgz"))

	err := Run(context.Background(), opts)

	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != cmdutil.ExitUsage || !strings.Contains(err.Error(), "inside the data directory") {
		t.Fatalf("got %v, want a usage error about the output inside the data directory", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dataDir, "boxes", "*b.tgz*")); len(matches) != 0 {
		t.Errorf("files were written into the data directory: %v", matches)
	}
}
