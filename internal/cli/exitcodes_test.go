package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/capsol/capsol/pkg/client"
)

// clearEnv empties the CAPSOL_* variables that the global flags read, so
// the developer's shell does not leak into a test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"CAPSOL_URL", "CAPSOL_ADMIN_KEY", "CAPSOL_DATA_DIR", "CAPSOL_SECRET_KEY", "CAPSOL_SECRET_KEY_FILE"} {
		t.Setenv(name, "")
	}
	t.Setenv("CAPSOL_HOME", t.TempDir())
}

// join returns a new slice of base followed by more, so that test cases
// built from one base do not share its backing array.
func join(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

func TestExitCodes(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	server := []string{"--server", d.URL, "--data-dir", d.dataDir}
	withKey := join(server, "--key", testAdminKey)
	unknownCapsule := "cap_01jc0000000000000000000000"

	tests := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"list", join(withKey, "capsules", "list"), ExitOK, ""},
		{"status", join(withKey, "status"), ExitOK, ""},
		{"unknown flag", join(withKey, "connections", "list", "--bogus"), ExitUsage, "unknown flag"},
		{"unknown command", []string{"bogus"}, ExitUsage, "unknown command"},
		{"unknown subcommand", join(withKey, "connections", "bogus"), ExitUsage, "unknown command"},
		{"missing argument", join(withKey, "shares", "create"), ExitUsage, "accepts 1 arg"},
		{"invalid output", join(withKey, "capsules", "list", "-o", "yaml"), ExitUsage, "invalid output format"},
		{"invalid role", join(withKey, "shares", "create", unknownCapsule, "--label", "x", "--role", "owner"), ExitUsage, "--role"},
		{"revoke without selection", join(withKey, "connections", "revoke"), ExitUsage, "--label"},
		{"prune under a day", join(withKey, "logs", "prune", "--older-than", "2h"), ExitUsage, "1d or more"},
		{"capsule not found", join(withKey, "shares", "create", unknownCapsule, "--label", "x", "--role", "reader"), ExitNotFound, "not_found"},
		{"logs of an unknown capsule", join(withKey, "logs", "show", unknownCapsule), ExitNotFound, unknownCapsule},
		{"grant not found", join(withKey, "grants", "approve", "grt_01jc0000000000000000000000"), ExitNotFound, "grt_01jc0000000000000000000000"},
		{"connection not found", join(withKey, "connections", "revoke", "--yes", "con_01jc0000000000000000000000"), ExitNotFound, "nothing was changed"},
		{"label not found", join(withKey, "connections", "pause", "--label", "nobody"), ExitNotFound, "nobody"},
		{"verify of an unknown capsule", join(server, "logs", "verify", unknownCapsule), ExitNotFound, "no box"},
		{"wrong key", join(server, "--key", "wrong-admin-key-0123456789", "capsules", "list"), ExitAuth, "--key"},
		{"no key at all", join(server, "capsules", "list"), ExitAuth, "admin.key"},
		{"status with a wrong key", join(server, "--key", "wrong-admin-key-0123456789", "status"), ExitAuth, "invalid_token"},
		{"status without a key", join(server, "status"), ExitOK, ""},
		{"nothing listening", []string{"--server", closedURL(t), "--key", testAdminKey, "capsules", "list"}, ExitUnreachable, "capsol serve"},
		{"status with nothing listening", []string{"--server", closedURL(t), "status"}, ExitUnreachable, "cannot reach"},
		{"oauth revoke with nothing listening", []string{"--server", closedURL(t), "oauth", "revoke", "--token", "capsol_at_x"}, ExitUnreachable, "cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.want {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.want, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr)
			}
		})
	}
}

func TestBatchOutputOnFailure(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	var capsule client.Capsule
	runJSON(t, &capsule, join(api, "capsules", "create", "fleet")...)
	var token client.EnrollmentToken
	runJSON(t, &token, join(api, "enrollments", "create", capsule.ID, "--role", "reader")...)
	unknownGrant := "grt_01jc0000000000000000000000"
	unknownEnrollment := "enr_01jc0000000000000000000000"

	// When every id fails, stdout stays empty and stderr names the ids.
	for _, args := range [][]string{
		join(api, "grants", "approve", unknownGrant, "-o", "json"),
		join(api, "grants", "revoke", unknownGrant),
		join(api, "enrollments", "revoke", unknownEnrollment, "-o", "json"),
		join(api, "enrollments", "revoke", unknownEnrollment),
	} {
		code, stdout, stderr := run(t, args...)
		if code != ExitNotFound {
			t.Errorf("capsol %s: exit status %d, want %d\nstderr: %s", strings.Join(args, " "), code, ExitNotFound, stderr)
		}
		if stdout != "" {
			t.Errorf("capsol %s printed on stdout:\n%s", strings.Join(args, " "), stdout)
		}
		if !strings.Contains(stderr, "_01jc0000000000000000000000") {
			t.Errorf("capsol %s: stderr does not name the id:\n%s", strings.Join(args, " "), stderr)
		}
	}

	// When some ids succeed, stdout lists them and the exit status reports
	// the failure.
	args := join(api, "enrollments", "revoke", token.EnrollmentID, unknownEnrollment, "-o", "json")
	code, stdout, stderr := run(t, args...)
	if code != ExitNotFound {
		t.Errorf("partial revoke: exit status %d, want %d\nstderr: %s", code, ExitNotFound, stderr)
	}
	var result struct {
		Revoked []string `json:"revoked"`
	}
	if err := json.Unmarshal([]byte(stdout), &result); err != nil {
		t.Fatalf("partial revoke printed no JSON: %v\n%s", err, stdout)
	}
	if len(result.Revoked) != 1 || result.Revoked[0] != token.EnrollmentID {
		t.Errorf("partial revoke printed %v, want [%s]", result.Revoked, token.EnrollmentID)
	}
}

func TestEnvironmentSelectsServerAndKey(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	t.Setenv("CAPSOL_URL", d.URL)
	t.Setenv("CAPSOL_ADMIN_KEY", testAdminKey)

	if code, _, stderr := run(t, "capsules", "list"); code != ExitOK {
		t.Fatalf("with CAPSOL_URL and CAPSOL_ADMIN_KEY: exit status %d\n%s", code, stderr)
	}
	if code, _, _ := run(t, "capsules", "list", "--key", "wrong-admin-key-0123456789"); code != ExitAuth {
		t.Errorf("--key did not take precedence over CAPSOL_ADMIN_KEY: exit status %d", code)
	}
}

func TestLockFileNamesTheServer(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)

	var result struct {
		URL    string `json:"url"`
		Daemon *struct {
			PID int `json:"pid"`
		} `json:"daemon"`
	}
	runJSON(t, &result, "--data-dir", d.dataDir, "--key", testAdminKey, "status")
	if result.URL != d.URL {
		t.Errorf("status used %s, want the lock file's URL %s", result.URL, d.URL)
	}
	if result.Daemon == nil || result.Daemon.PID == 0 {
		t.Errorf("status did not report the daemon of the lock file: %+v", result.Daemon)
	}
}
