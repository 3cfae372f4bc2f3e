package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// indexFiles are the index files of a data directory.
var indexFiles = []string{
	"capsules.json", "shares.json", "principals.json", "credentials.json", "grants.json",
	"enrollments.json", "invites.json", "sessions.json", "settings.json", "policy.json",
}

func TestFreshStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dataDir, home := e["CAPSOL_DATA_DIR"], e["CAPSOL_HOME"]
	started := time.Now()
	p := startDaemon(t, e)
	base := localURL(e.port(t))

	status, health := getJSON(t, base+"/health")
	if want := map[string]any{"status": "ok", "version": "0.20.0"}; status != http.StatusOK || !reflect.DeepEqual(health, want) {
		t.Errorf("GET /health = %d %v, expected 200 %v", status, health, want)
	}
	status, ready := getJSON(t, base+"/ready")
	if want := map[string]any{"status": "ready"}; status != http.StatusOK || !reflect.DeepEqual(ready, want) {
		t.Errorf("GET /ready = %d %v, expected 200 %v", status, ready, want)
	}

	t.Run("admin key", func(t *testing.T) {
		keyFile := filepath.Join(home, "admin.key")
		info, err := os.Stat(keyFile)
		if err != nil {
			t.Fatalf("admin.key was not generated: %v", err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("admin.key has mode %04o, expected 0600", got)
		}
		data, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimSpace(string(data))
		if !strings.HasPrefix(key, "capsol_admin_") {
			t.Errorf("admin.key does not start with capsol_admin_: %q", key)
		}
		if strings.Contains(p.stderr.String(), key) {
			t.Errorf("the daemon logged the admin key")
		}
		generated := p.waitForLog(t, "admin key generated", 1)
		if generated["path"] != keyFile {
			t.Errorf("the log names %v as the admin key file, expected %s", generated["path"], keyFile)
		}
	})

	t.Run("modes", func(t *testing.T) {
		for _, dir := range []string{home, dataDir} {
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				}
				if got := info.Mode().Perm(); got != want {
					t.Errorf("%s has mode %04o, expected %04o", path, got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("layout", func(t *testing.T) {
		for _, name := range append([]string{"meta.json", "capsold.lock", "boxes", "audit"}, indexFiles...) {
			if _, err := os.Stat(filepath.Join(dataDir, name)); err != nil {
				t.Errorf("%s is missing in a fresh data directory: %v", name, err)
			}
		}
		meta := readJSONFile(t, filepath.Join(dataDir, "meta.json"))
		if want := map[string]any{"version": "0.20.0", "schema": float64(4)}; !reflect.DeepEqual(meta, want) {
			t.Errorf("meta.json = %v, expected %v", meta, want)
		}
	})

	t.Run("lock file", func(t *testing.T) {
		raw, lock := readLockFile(t, dataDir)
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatalf("capsold.lock is not a JSON object: %v\n%s", err, raw)
		}
		for _, key := range []string{"pid", "url", "version", "started_at"} {
			if _, ok := fields[key]; !ok {
				t.Errorf("capsold.lock has no %q: %s", key, raw)
			}
		}
		if lock.PID != p.pid() {
			t.Errorf("lock pid = %d, expected the daemon's pid %d", lock.PID, p.pid())
		}
		if lock.Version != "0.20.0" {
			t.Errorf("lock version = %q, expected 0.20.0", lock.Version)
		}
		if lock.URL != base {
			t.Errorf("lock url = %q, expected %s", lock.URL, base)
		}
		// started_at has whole seconds, so compare with a second of slack.
		if lock.StartedAt.Before(started.Add(-time.Second)) || lock.StartedAt.After(time.Now()) {
			t.Errorf("lock started_at = %v, expected between %v and now", lock.StartedAt, started)
		}
		if status, _ := get(t, lock.URL+"/health"); status != http.StatusOK {
			t.Errorf("GET %s/health from the lock file URL = %d, expected 200", lock.URL, status)
		}
	})
}

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t).without("CAPSOL_DATA_DIR")
	workDir := t.TempDir()
	p := startIn(t, workDir, e, capsoldBin)
	waitReady(t, p, localURL(e.port(t)))

	dataDir := filepath.Join(workDir, "registry-data")
	info, err := os.Stat(dataDir)
	if err != nil {
		t.Fatalf("./registry-data was not created in the working directory: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("./registry-data has mode %04o, expected 0700", got)
	}
	if _, lock := readLockFile(t, dataDir); lock.PID != p.pid() {
		t.Errorf("./registry-data/capsold.lock names pid %d, expected %d", lock.PID, p.pid())
	}
}

// TestConfigPrecedence layers the config file, the environment and the
// flags, each setting its own data_dir and port, and checks which one the
// daemon uses.
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	e := newEnv(t).without("CAPSOL_DATA_DIR").without("PORT")
	root := t.TempDir()
	fileDir, envDir, flagDir := filepath.Join(root, "from-file"), filepath.Join(root, "from-env"), filepath.Join(root, "from-flag")
	filePort, envPort, flagPort := freePort(t), freePort(t), freePort(t)
	configFile := filepath.Join(e["CAPSOL_HOME"], "config.yaml")
	writeFile(t, configFile, "data_dir: "+fileDir+"\nport: "+strconv.Itoa(filePort)+"\n")

	withEnv := e.with("CAPSOL_DATA_DIR", envDir).with("PORT", strconv.Itoa(envPort))
	cases := []struct {
		name     string
		env      env
		args     []string
		wantDir  string
		wantPort int
	}{
		{"config file over default", e, nil, fileDir, filePort},
		{"environment over config file", withEnv, nil, envDir, envPort},
		{"flag over environment", withEnv, []string{"--data-dir", flagDir, "--port", strconv.Itoa(flagPort)}, flagDir, flagPort},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, capsoldBin, tc.args...)
			waitReady(t, p, localURL(tc.wantPort))

			_, lock := readLockFile(t, tc.wantDir)
			if lock.PID != p.pid() {
				t.Errorf("the daemon does not hold %s: lock pid %d, daemon pid %d", tc.wantDir, lock.PID, p.pid())
			}
			if want := localURL(tc.wantPort); lock.URL != want {
				t.Errorf("lock url = %q, expected %s", lock.URL, want)
			}
			resolved := p.waitForLog(t, "configuration resolved", 1)
			if resolved["config_file"] != configFile {
				t.Errorf("config_file = %v, expected %s", resolved["config_file"], configFile)
			}
			p.stop(t)
		})
	}
}

// flagsSection returns the "Flags:" part of a command's help without the
// --help line, which names the command, and without the "Global Flags:"
// that capsol serve inherits from the capsol root command.
func flagsSection(t *testing.T, help string) string {
	t.Helper()
	_, flags, ok := strings.Cut(help, "\nFlags:\n")
	if !ok {
		t.Fatalf("help has no Flags section:\n%s", help)
	}
	flags, _, _ = strings.Cut(flags, "\nGlobal Flags:\n")
	var lines []string
	for _, line := range strings.Split(flags, "\n") {
		if !strings.Contains(line, "--help") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

func TestServeMatchesCapsold(t *testing.T) {
	t.Parallel()
	daemonEnv := newEnv(t)
	serveEnv := newEnv(t).without("PORT")
	servePort := freePort(t)
	startDaemon(t, daemonEnv)
	serve := start(t, serveEnv, capsolBin, "serve", "--port", strconv.Itoa(servePort))
	waitReady(t, serve, localURL(servePort))

	_, daemonHealth := get(t, localURL(daemonEnv.port(t))+"/health")
	status, serveHealth := get(t, localURL(servePort)+"/health")
	if status != http.StatusOK || string(serveHealth) != string(daemonHealth) {
		t.Errorf("capsol serve /health = %d %s, capsold /health = %s", status, serveHealth, daemonHealth)
	}
	if _, lock := readLockFile(t, serveEnv["CAPSOL_DATA_DIR"]); lock.PID != serve.pid() {
		t.Errorf("capsol serve does not hold its data directory: lock pid %d, process pid %d", lock.PID, serve.pid())
	}

	t.Run("same flags", func(t *testing.T) {
		helpEnv := newEnv(t)
		daemonHelp := run(t, helpEnv, capsoldBin, "--help")
		serveHelp := run(t, helpEnv, capsolBin, "serve", "--help")
		if daemonHelp.code != 0 || serveHelp.code != 0 {
			t.Fatalf("--help exit statuses: capsold %d, capsol serve %d", daemonHelp.code, serveHelp.code)
		}
		if a, b := flagsSection(t, daemonHelp.stdout), flagsSection(t, serveHelp.stdout); a != b {
			t.Errorf("flags differ\ncapsold:\n%s\ncapsol serve:\n%s", a, b)
		}
	})

	t.Run("same boot failure", func(t *testing.T) {
		badEnv := newEnv(t).with("PORT", "abc")
		fromDaemon := expectBootFailure(t, run(t, badEnv, capsoldBin), "invalid_config")
		fromServe := expectBootFailure(t, run(t, badEnv, capsolBin, "serve"), "invalid_config")
		if fromServe != fromDaemon {
			t.Errorf("capsol serve failed with %+v, capsold with %+v", fromServe, fromDaemon)
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	signals := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
	}
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			dataDir := e["CAPSOL_DATA_DIR"]
			p := startDaemon(t, e)

			p.signal(t, s.sig)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit status %d after %s, expected 0\nstderr:\n%s", code, s.name, p.stderr)
			}
			if p.countLogs("shutdown requested") != 1 || p.countLogs("stopped") != 1 {
				t.Errorf("the daemon did not log \"shutdown requested\" and \"stopped\" once each\nstderr:\n%s", p.stderr)
			}
			if raw, _ := readLockFile(t, dataDir); len(raw) != 0 {
				t.Errorf("capsold.lock still has content after shutdown: %s", raw)
			}

			doctor := run(t, e, capsolBin, "doctor", "-o", "json")
			if doctor.code != 0 {
				t.Errorf("capsol doctor exit status %d, expected 0\n%s%s", doctor.code, doctor.stdout, doctor.stderr)
			}
			lockFinding := findFinding(t, doctor.stdout, "lock")
			assertContains(t, "lock finding", lockFinding.Message, "not held")

			// The lock and the port are free at once: a new daemon boots on
			// the same data directory and port.
			next := startDaemon(t, e)
			if _, lock := readLockFile(t, dataDir); lock.PID != next.pid() {
				t.Errorf("lock pid = %d, expected the new daemon's pid %d", lock.PID, next.pid())
			}
		})
	}
}

func TestSIGHUPReloadsAdminKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keyFile := filepath.Join(e["CAPSOL_HOME"], "admin.key")
	p := startDaemon(t, e)
	base := localURL(e.port(t))

	const rotated = "e2e-rotated-admin-key-0123456789"
	writeFile(t, keyFile, rotated+"\n")
	p.signal(t, syscall.SIGHUP)
	reloaded := p.waitForLog(t, "admin key reloaded", 1)
	if reloaded["source"] != keyFile {
		t.Errorf("reload source = %v, expected %s", reloaded["source"], keyFile)
	}
	waitReady(t, p, base)

	// A key that is too short is rejected and the daemon keeps serving.
	writeFile(t, keyFile, "e2eShort\n")
	p.signal(t, syscall.SIGHUP)
	failed := p.waitForLog(t, "admin key reload failed; the previous key stays in effect", 1)
	assertContains(t, "reload failure", fmt.Sprint(failed["error"]), "admin_key_too_short")
	waitReady(t, p, base)

	if strings.Contains(p.stderr.String(), rotated) || strings.Contains(p.stderr.String(), "e2eShort") {
		t.Errorf("the daemon logged an admin key:\n%s", p.stderr)
	}
}

// TestFirstFreePortOfRange holds the first free port of 4000-4010 and
// checks that a daemon without PORT binds a later one of the range.
//
// Not parallel: it uses the shared ports 4000-4010.
func TestFirstFreePortOfRange(t *testing.T) {
	heldPort := 0
	for port := 4000; port <= 4010 && heldPort == 0; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			heldPort = port
			t.Cleanup(func() { ln.Close() })
		}
	}
	if heldPort == 0 || heldPort == 4010 {
		t.Skip("ports 4000-4010 are taken by other processes, so no later free port can be checked")
	}

	e := newEnv(t).without("PORT")
	p := start(t, e, capsoldBin)
	deadline := time.Now().Add(readyTimeout)
	for p.countLogs("listening") == 0 && !p.exited() && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
	}
	if p.exited() {
		f := expectBootFailure(t, result{code: p.wait(t), stdout: p.stdout.String(), stderr: p.stderr.String()}, "port_in_use")
		t.Skipf("other processes took every port after %d: %s", heldPort, f.Error)
	}

	line := p.waitForLog(t, "listening", 1)
	url := fmt.Sprint(line["url"])
	_, portText, _ := strings.Cut(strings.TrimPrefix(url, "http://"), ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("the listening log has no port in its url %q", url)
	}
	if port <= heldPort || port > 4010 {
		t.Errorf("the daemon bound port %d, expected one of %d-4010 because this test holds %d", port, heldPort+1, heldPort)
	}
	waitReady(t, p, localURL(port))
}
