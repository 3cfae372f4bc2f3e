package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestSecretKeyRequiredInProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t).with("CAPSOL_ENV", "production")

	f := expectBootFailure(t, run(t, e, capsoldBin), "secret_key_required")
	assertContains(t, "error", f.Error, "CAPSOL_SECRET_KEY")
	assertContains(t, "remediation", f.Remediation, "openssl rand -base64 48")
	assertContains(t, "remediation", f.Remediation, "CAPSOL_SECRET_KEY_FILE")

	// Following the remediation makes the next boot succeed.
	startDaemon(t, e.with("CAPSOL_SECRET_KEY", "e2e-secret-key-material-that-is-longer-than-32-bytes"))
}

func TestSecretKeyFileMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keyFile := filepath.Join(t.TempDir(), "secret key") // the space checks the quoting
	e = e.with("CAPSOL_SECRET_KEY_FILE", keyFile)

	f := expectBootFailure(t, run(t, e, capsoldBin), "secret_key_unreadable")
	assertContains(t, "error", f.Error, keyFile)
	assertContains(t, "remediation", f.Remediation, keyFile)

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed, so the remediation cannot run")
	}
	fix := regexp.MustCompile(`openssl rand -base64 48 > .+ && chmod 600 .+?, or `).FindString(f.Remediation)
	if fix == "" {
		t.Fatalf("remediation holds no openssl command: %s", f.Remediation)
	}
	runShell(t, strings.TrimSuffix(fix, ", or "))

	p := startDaemon(t, e)
	loaded := p.waitForLog(t, "keys loaded", 1)
	if loaded["secret_key_source"] != keyFile {
		t.Errorf("secret_key_source = %v, expected %s", loaded["secret_key_source"], keyFile)
	}
}

// blockedPath returns a path whose parent is a regular file, so that even
// root cannot create it. The blocker's name has a space to check that the
// remediation quotes paths for the shell.
func blockedPath(t *testing.T) (path, blocker string) {
	t.Helper()
	blocker = filepath.Join(t.TempDir(), "blocker file")
	writeFile(t, blocker, "not a directory\n")
	return filepath.Join(blocker, "capsol dir"), blocker
}

// runBlockedPathRemediation runs the two shell commands of a
// home_not_writable or data_dir_not_writable remediation: the mv that moves
// the blocking file aside, then mkdir and chmod.
func runBlockedPathRemediation(t *testing.T, remediation, blocker, dir string) {
	t.Helper()
	mv := regexp.MustCompile(`\((mv .+)\) or set`).FindStringSubmatch(remediation)
	mkdir := regexp.MustCompile(`then run: (mkdir -p .+ && chmod 700 .+)$`).FindStringSubmatch(remediation)
	if mv == nil || mkdir == nil {
		t.Fatalf("remediation lacks the mv or the mkdir command: %s", remediation)
	}

	runShell(t, mv[1])
	if _, err := os.Stat(blocker + ".bak"); err != nil {
		t.Errorf("the mv of the remediation did not move the blocker aside: %v", err)
	}
	runShell(t, mkdir[1])
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("the mkdir of the remediation did not create %s: %v", dir, err)
	}
	if got := info.Mode().Perm(); got != 0o700 {
		t.Errorf("%s has mode %04o after the remediation, expected 0700", dir, got)
	}
}

func TestHomeNotWritable(t *testing.T) {
	t.Parallel()
	home, blocker := blockedPath(t)
	e := newEnv(t).with("CAPSOL_HOME", home)

	f := expectBootFailure(t, run(t, e, capsoldBin), "home_not_writable")
	assertContains(t, "error", f.Error, home)
	assertContains(t, "remediation", f.Remediation, "mkdir -p '"+home+"' && chmod 700 '"+home+"'")

	runBlockedPathRemediation(t, f.Remediation, blocker, home)
	startDaemon(t, e)
	if _, err := os.Stat(filepath.Join(home, "admin.key")); err != nil {
		t.Errorf("admin.key was not generated in the repaired home: %v", err)
	}
}

func TestDataDirNotWritable(t *testing.T) {
	t.Parallel()
	dataDir, blocker := blockedPath(t)
	e := newEnv(t).with("CAPSOL_DATA_DIR", dataDir)

	f := expectBootFailure(t, run(t, e, capsoldBin), "data_dir_not_writable")
	assertContains(t, "error", f.Error, dataDir)
	assertContains(t, "remediation", f.Remediation, "mkdir -p '"+dataDir+"' && chmod 700 '"+dataDir+"'")

	runBlockedPathRemediation(t, f.Remediation, blocker, dataDir)
	startDaemon(t, e)
	if _, err := os.Stat(filepath.Join(dataDir, "meta.json")); err != nil {
		t.Errorf("the repaired data directory was not initialized: %v", err)
	}
}

func TestDataDirLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first := startDaemon(t, e)
	lockBefore, _ := readLockFile(t, e["CAPSOL_DATA_DIR"])

	second := e.with("PORT", strconv.Itoa(freePort(t)))
	f := expectBootFailure(t, run(t, second, capsoldBin), "data_dir_locked")
	assertContains(t, "error", f.Error, filepath.Join(e["CAPSOL_DATA_DIR"], "capsold.lock"))
	assertContains(t, "error", f.Error, "pid "+strconv.Itoa(first.pid()))
	assertContains(t, "remediation", f.Remediation, e["CAPSOL_DATA_DIR"])
	assertContains(t, "remediation", f.Remediation, "kill "+strconv.Itoa(first.pid()))

	// The refused daemon must not touch the lock of the running one.
	lockAfter, _ := readLockFile(t, e["CAPSOL_DATA_DIR"])
	if string(lockAfter) != string(lockBefore) {
		t.Errorf("capsold.lock changed:\nbefore: %s\nafter:  %s", lockBefore, lockAfter)
	}
	waitReady(t, first, localURL(e.port(t)))
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	port := e.port(t)
	busy, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("hold port %d: %v", port, err)
	}

	f := expectBootFailure(t, run(t, e, capsoldBin), "port_in_use")
	assertContains(t, "error", f.Error, "127.0.0.1:"+strconv.Itoa(port))
	assertContains(t, "remediation", f.Remediation, "Free port "+strconv.Itoa(port))

	// The failed boot released the data directory lock: once the port is
	// free, the same data directory boots.
	busy.Close()
	startDaemon(t, e)
}

// holdPortRange listens on every port of 4000-4010 on 127.0.0.1 until the
// test ends. It skips the test when a port is already taken, because the
// test could not keep another process from releasing it mid-test.
func holdPortRange(t *testing.T) {
	t.Helper()
	for port := 4000; port <= 4010; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Skipf("port %d is held by another process, so this test cannot make the whole range 4000-4010 busy by itself: %v", port, err)
		}
		t.Cleanup(func() { ln.Close() })
	}
}

// Not parallel: this test holds the shared ports 4000-4010, and no other
// test of this package uses that range.
func TestPortRangeAllBusy(t *testing.T) {
	holdPortRange(t)
	e := newEnv(t).without("PORT")

	f := expectBootFailure(t, run(t, e, capsoldBin), "port_in_use")
	assertContains(t, "error", f.Error, "4000-4010")
	assertContains(t, "remediation", f.Remediation, "PORT=")
	assertContains(t, "remediation", f.Remediation, "4000-4010")
}

func TestCorruptIndex(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		file    string
		content string
		reason  string
	}{
		{"truncated JSON", "capsules.json", `{"capsules": [`, "unexpected end of JSON input"},
		{"null document", "policy.json", "null\n", "null"},
		{"invalid connection id", "shares.json",
			`{"shares": [{"connection_id": "con_nope", "capsule_id": "cap_01hq3z9x8k7m6n5p4r3s2t1v0w"}]}`, `"con_nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			dataDir := e["CAPSOL_DATA_DIR"]
			initDataDir(t, e)
			path := filepath.Join(dataDir, tc.file)
			writeFile(t, path, tc.content)
			before := snapshot(t, dataDir)

			f := expectBootFailure(t, run(t, e, capsoldBin), "corrupt_index")
			assertContains(t, "error", f.Error, path)
			assertContains(t, "error", f.Error, tc.reason)
			assertContains(t, "remediation", f.Remediation, "backup")
			assertContains(t, "remediation", f.Remediation, filepath.Base(dataDir)+"/"+tc.file)
			assertUnchanged(t, dataDir, before)
		})
	}
}

// TestCorruptIndexOnOldLayout boots a 0.15 layout whose capsules.json is a
// valid JSON object with an invalid capsule id: the records are validated
// before any migration rewrites a file.
func TestCorruptIndexOnOldLayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dataDir := e["CAPSOL_DATA_DIR"]
	copyDir(t, filepath.Join("..", "internal", "store", "testdata", "v0.15"), dataDir)
	writeFile(t, filepath.Join(dataDir, "capsules.json"), `{"capsules": [{"id": "cap_BAD", "name": "x"}]}`)
	before := snapshot(t, dataDir)

	f := expectBootFailure(t, run(t, e, capsoldBin), "corrupt_index")
	assertContains(t, "error", f.Error, filepath.Join(dataDir, "capsules.json"))
	assertUnchanged(t, dataDir, before)
}

func TestSchemaTooNew(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dataDir := e["CAPSOL_DATA_DIR"]
	initDataDir(t, e)
	writeFile(t, filepath.Join(dataDir, "meta.json"), `{"version": "0.99.0", "schema": 99}`+"\n")
	before := snapshot(t, dataDir)

	f := expectBootFailure(t, run(t, e, capsoldBin), "schema_too_new")
	assertContains(t, "error", f.Error, "schema 99")
	assertContains(t, "remediation", f.Remediation, "0.99.0")
	assertContains(t, "remediation", f.Remediation, dataDir)
	assertUnchanged(t, dataDir, before)
}

func TestMigrationFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dataDir := e["CAPSOL_DATA_DIR"]
	copyDir(t, filepath.Join("..", "internal", "store", "testdata", "v0.15"), dataDir)
	// A JSON object, so the index check passes, but the migration to 0.16
	// cannot add expires_at to a credential that is a number.
	writeFile(t, filepath.Join(dataDir, "credentials.json"), `{"credentials": [42]}`+"\n")
	before := snapshot(t, dataDir)

	f := expectBootFailure(t, run(t, e, capsoldBin), "migration_failed")
	assertContains(t, "error", f.Error, "credentials.json")
	assertContains(t, "remediation", f.Remediation, dataDir)
	assertUnchanged(t, dataDir, before)
}

func TestAdminKeyTooShortInEnvironment(t *testing.T) {
	t.Parallel()
	const shortKey = "e2eShort" // 8 bytes
	e := newEnv(t).with("CAPSOL_ADMIN_KEY", shortKey)

	r := run(t, e, capsoldBin)
	f := expectBootFailure(t, r, "admin_key_too_short")
	assertContains(t, "error", f.Error, "CAPSOL_ADMIN_KEY is 8 bytes")
	assertContains(t, "remediation", f.Remediation, "CAPSOL_ADMIN_KEY")
	if strings.Contains(r.stderr, shortKey) {
		t.Errorf("stderr contains the admin key:\n%s", r.stderr)
	}
}

func TestAdminKeyTooShortInFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	keyFile := filepath.Join(e["CAPSOL_HOME"], "admin.key")
	writeFile(t, keyFile, "e2eShort\n")

	f := expectBootFailure(t, run(t, e, capsoldBin), "admin_key_too_short")
	assertContains(t, "error", f.Error, keyFile+" is 8 bytes")
	assertContains(t, "remediation", f.Remediation, "openssl rand -hex 24 > "+keyFile+" && chmod 600 "+keyFile)

	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed, so the remediation cannot run")
	}
	runShell(t, "openssl rand -hex 24 > "+keyFile+" && chmod 600 "+keyFile)
	startDaemon(t, e)
}

func TestInvalidConfig(t *testing.T) {
	t.Parallel()
	const badYAML = "port: [4000\n"
	cases := []struct {
		name            string
		vars            map[string]string
		args            []string
		configYAML      string
		wantError       string
		wantRemediation string
		// remediationNamesConfig is true when the remediation must name
		// $CAPSOL_HOME/config.yaml.
		remediationNamesConfig bool
	}{
		{name: "PORT not a number", vars: map[string]string{"PORT": "abc"}, wantError: `"abc"`, wantRemediation: "PORT"},
		{name: "port flag out of range", args: []string{"--port", "70000"}, wantError: `"70000"`, wantRemediation: "65535"},
		{name: "unknown environment", vars: map[string]string{"CAPSOL_ENV": "staging"}, wantError: `"staging"`, wantRemediation: "CAPSOL_ENV"},
		{name: "config file not YAML", configYAML: badYAML, wantError: "config.yaml", remediationNamesConfig: true},
		{name: "config file sets unknown environment", configYAML: "env: staging\n", wantError: `"staging"`, wantRemediation: "development or production"},
		{name: "both secret key sources", vars: map[string]string{
			"CAPSOL_SECRET_KEY": "e2e-secret-key-material-that-is-longer-than-32-bytes", "CAPSOL_SECRET_KEY_FILE": "/nonexistent/secret.key",
		}, wantError: "CAPSOL_SECRET_KEY_FILE", wantRemediation: "unset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for k, v := range tc.vars {
				e = e.with(k, v)
			}
			configFile := filepath.Join(e["CAPSOL_HOME"], "config.yaml")
			if tc.configYAML != "" {
				writeFile(t, configFile, tc.configYAML)
			}

			f := expectBootFailure(t, run(t, e, capsoldBin, tc.args...), "invalid_config")
			assertContains(t, "error", f.Error, tc.wantError)
			if tc.wantRemediation != "" {
				assertContains(t, "remediation", f.Remediation, tc.wantRemediation)
			}
			if tc.remediationNamesConfig {
				assertContains(t, "remediation", f.Remediation, configFile)
			}

			// The configuration is checked before anything is created.
			if _, err := os.Stat(e["CAPSOL_DATA_DIR"]); !os.IsNotExist(err) {
				t.Errorf("the data directory exists after an invalid configuration (stat error: %v)", err)
			}
		})
	}
}
