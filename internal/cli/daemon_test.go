package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
)

const testAdminKey = "cli-test-admin-key-0123456789"

// testDaemon is a daemon booted in the test process on a temporary data
// directory and a free loopback port.
type testDaemon struct {
	*daemon.Daemon
	dataDir string
	home    string
	stop    func()
}

// bootDaemon boots a daemon on a new data directory with testAdminKey.
func bootDaemon(t *testing.T) *testDaemon {
	t.Helper()
	root := t.TempDir()
	return bootDaemonWith(t, config.Config{
		DataDir:  filepath.Join(root, "data"),
		Home:     filepath.Join(root, "home"),
		AdminKey: testAdminKey,
	})
}

// bootDaemonWith boots a daemon with cfg on a free loopback port. The
// daemon stops at the end of the test or at its stop function, once.
func bootDaemonWith(t *testing.T, cfg config.Config) *testDaemon {
	t.Helper()
	cfg.Port, cfg.Listen, cfg.Env = freePort(t), "127.0.0.1", config.Development
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("boot the daemon: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := d.Shutdown(); err != nil {
				t.Errorf("shut the daemon down: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &testDaemon{Daemon: d, dataDir: cfg.DataDir, home: cfg.Home, stop: stop}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// closedURL returns the URL of a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://127.0.0.1:" + strconv.Itoa(freePort(t))
}

// run runs capsol with args and returns the exit status, stdout and
// stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := ExecuteWithInput(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// runJSON runs capsol with -o json, fails the test unless it exits 0, and
// decodes stdout into out.
func runJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	code, stdout, stderr := run(t, append(args, "-o", "json")...)
	if code != ExitOK {
		t.Fatalf("capsol %s: exit status %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("capsol %s printed no JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// mcpStatus sends an MCP initialize request with credential and returns
// the HTTP status and the error_code of a refusal.
func mcpStatus(t *testing.T, mcpURL, credential string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"cli-test","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var refusal struct {
		ErrorCode string `json:"error_code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&refusal)
	return resp.StatusCode, refusal.ErrorCode
}
