package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The manual steps of "Backup" and "Restore drill" on the operations page,
// as written. The test replaces systemctl by stopping and starting its
// daemon, and the archive name by its own file.
const (
	manualBackup = `tar -czf "$ARCHIVE" \
  -C "$(dirname "$CAPSOL_DATA_DIR")" "$(basename "$CAPSOL_DATA_DIR")"`
	manualRestore = `mv "$CAPSOL_DATA_DIR" "$CAPSOL_DATA_DIR.broken-$(date +%s)"
tar -xzf "$ARCHIVE" -C "$(dirname "$CAPSOL_DATA_DIR")"`
)

// TestRunbookBackupAndRestore takes backups both ways from a running
// registry, restores each kind with the other way, and checks after each
// restore that the registry is ready and its agent still reaches its
// capsule.
func TestRunbookBackupAndRestore(t *testing.T) {
	e := newEnv(t).with("CAPSOL_ADMIN_KEY", runbookAdminKey)
	dataDir := e["CAPSOL_DATA_DIR"]
	archives := t.TempDir()
	daemon := startDaemon(t, e)
	port := e.port(t)

	capsule := adminPOST(t, port, "/v1/capsules", map[string]any{"name": "precious"})
	share := adminPOST(t, port, "/v1/capsules/"+capsule["id"].(string)+"/shares", map[string]any{"label": "keeper", "role": "reader"})
	mcpURL, credential := share["mcp_url"].(string), share["credential"].(string)

	shell := func(script string, extra ...string) {
		t.Helper()
		env := append([]string{"PATH=" + e["PATH"], "CAPSOL_DATA_DIR=" + dataDir}, extra...)
		runRunbookStep(t, script, env)
	}
	cli := func(want int, args ...string) result {
		t.Helper()
		r := run(t, e, capsolBin, args...)
		if r.code != want {
			t.Fatalf("capsol %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	agentWorks := func(when string) {
		t.Helper()
		if status, code := mcpInitialize(t, mcpURL, credential); status != 200 {
			t.Fatalf("%s: the agent got %d %q, expected 200", when, status, code)
		}
	}

	// Hot backups, while the daemon runs: the manual tar, the CLI from the
	// server's snapshot, and the CLI from the data directory.
	manual := filepath.Join(archives, "manual.tgz")
	shell(manualBackup, "ARCHIVE="+manual)
	fromServer := filepath.Join(archives, "from-server.tgz")
	cli(0, "backup", "--from-server", "-o", fromServer)
	direct := filepath.Join(archives, "direct.tgz")
	cli(0, "backup", "-o", direct)

	for _, archive := range []string{manual, fromServer, direct} {
		cli(0, "backup", "verify", archive)
	}
	if r := cli(1, "restore", fromServer); !strings.Contains(r.stdout+r.stderr, "stop") {
		t.Errorf("restore while the daemon runs must say to stop it first:\n%s%s", r.stdout, r.stderr)
	}
	cli(0, "restore", "drill", direct)

	// A capsol archive restored with the manual steps.
	daemon.stop(t)
	shell(manualRestore, "ARCHIVE="+fromServer)
	daemon = startDaemon(t, e)
	agentWorks("after the manual restore of a capsol archive")

	// A manual archive restored with capsol restore.
	daemon.stop(t)
	cli(0, "restore", manual)
	daemon = startDaemon(t, e)
	agentWorks("after capsol restore of a manual archive")
	daemon.stop(t)

	broken, err := filepath.Glob(dataDir + ".broken-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(broken) == 0 {
		t.Fatal("no <dir>.broken-<unix> directory kept the replaced data")
	}
	for _, dir := range broken {
		if _, err := os.Stat(filepath.Join(dir, "capsules.json")); err != nil {
			t.Errorf("%s lost its data: %v", dir, err)
		}
	}
}
