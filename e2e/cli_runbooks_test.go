package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/secret"
)

// capsolJSON runs the capsol binary with -o json, fails the test unless it
// exits with want, and decodes stdout into out.
func capsolJSON(t *testing.T, e env, want int, out any, args ...string) result {
	t.Helper()
	r := run(t, e, capsolBin, append(args, "-o", "json")...)
	if r.code != want {
		t.Fatalf("capsol %s: exit status %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
			t.Fatalf("capsol %s printed no JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
	return r
}

// adminStatus sends GET /v1/capsules with the admin key as a bearer token,
// or with cookie as the dashboard session cookie, and returns the status.
func adminStatus(t *testing.T, baseURL, key, cookie string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, baseURL+"/v1/capsules", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "capsol_session", Value: cookie})
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sessionCookie returns the break-glass dashboard cookie of an admin key:
// the lowercase hex SHA-256 of the key.
func sessionCookie(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func readAdminKey(t *testing.T, e env) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e["CAPSOL_HOME"], "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func TestCLIRotateAdminKeyWithoutRestart(t *testing.T) {
	e := newEnv(t)
	daemon := startDaemon(t, e)
	baseURL := localURL(e.port(t))
	oldKey := readAdminKey(t, e)
	if status := adminStatus(t, baseURL, "", sessionCookie(oldKey)); status != http.StatusOK {
		t.Fatalf("the break-glass cookie of the old key got %d before the rotation, want 200", status)
	}

	var rotated struct {
		KeyFile string `json:"key_file"`
		Daemon  *struct {
			PID       int  `json:"pid"`
			Signalled bool `json:"signalled"`
		} `json:"daemon"`
		Verified       bool  `json:"verified"`
		OldKeyRejected *bool `json:"old_key_rejected"`
	}
	capsolJSON(t, e, 0, &rotated, "keys", "rotate-admin")
	if rotated.Daemon == nil || !rotated.Daemon.Signalled || rotated.Daemon.PID != daemon.pid() {
		t.Errorf("rotate-admin reported daemon %+v, want pid %d signalled", rotated.Daemon, daemon.pid())
	}
	if !rotated.Verified || rotated.OldKeyRejected == nil || !*rotated.OldKeyRejected {
		t.Errorf("rotate-admin reported verified %v, old key rejected %v", rotated.Verified, rotated.OldKeyRejected)
	}

	newKey := readAdminKey(t, e)
	if newKey == oldKey || !secret.CheckToken(newKey, secret.PrefixAdmin) {
		t.Fatalf("admin.key holds %q, want a new checksummed capsol_admin_ key", newKey)
	}
	if info, err := os.Stat(rotated.KeyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("admin.key: %v, %v; want mode 0600", info, err)
	}
	if status := adminStatus(t, baseURL, oldKey, ""); status != http.StatusUnauthorized {
		t.Errorf("the old key got %d, want 401", status)
	}
	if status := adminStatus(t, baseURL, newKey, ""); status != http.StatusOK {
		t.Errorf("the new key got %d, want 200", status)
	}
	if status := adminStatus(t, baseURL, "", sessionCookie(oldKey)); status != http.StatusUnauthorized {
		t.Errorf("the break-glass cookie of the old key got %d after the rotation, want 401", status)
	}
	if status := adminStatus(t, baseURL, "", sessionCookie(newKey)); status != http.StatusOK {
		t.Errorf("the break-glass cookie of the new key got %d, want 200", status)
	}
	if daemon.exited() {
		t.Fatal("the daemon exited: the rotation must not need a restart")
	}
	if n := daemon.countLogs("admin key reloaded"); n != 1 {
		t.Errorf("the daemon logged %d reloads, want 1", n)
	}

	// The CLI reads the new key from the same file.
	capsolJSON(t, e, 0, nil, "capsules", "list")
}

func TestCLIRotateAdminKeyOfAnEnvironmentDaemon(t *testing.T) {
	e := newEnv(t)
	startDaemon(t, e.with("CAPSOL_ADMIN_KEY", runbookAdminKey))

	r := run(t, e, capsolBin, "keys", "rotate-admin", "--wait", "500ms", "-o", "json")
	if r.code != 4 {
		t.Fatalf("rotate-admin against a daemon that reads CAPSOL_ADMIN_KEY: exit %d, want 4\nstderr: %s", r.code, r.stderr)
	}
	assertContains(t, "stdout", r.stdout, "--print")
	if status := adminStatus(t, localURL(e.port(t)), runbookAdminKey, ""); status != http.StatusOK {
		t.Errorf("the daemon's environment key got %d after a failed rotation, want 200", status)
	}

	var printed struct {
		Key string `json:"key"`
	}
	before := readAdminKey(t, e)
	capsolJSON(t, e, 0, &printed, "keys", "rotate-admin", "--print")
	if !secret.CheckToken(printed.Key, secret.PrefixAdmin) {
		t.Errorf("--print printed %q, want a checksummed capsol_admin_ key", printed.Key)
	}
	if readAdminKey(t, e) != before {
		t.Error("--print changed admin.key")
	}
}

func TestCLIRevokeRunbook(t *testing.T) {
	e := newEnv(t).with("CAPSOL_ADMIN_KEY", runbookAdminKey)
	startDaemon(t, e)

	var capsule struct {
		ID string `json:"id"`
	}
	capsolJSON(t, e, 0, &capsule, "capsules", "create", "incident")
	type share struct {
		ConnectionID string `json:"connection_id"`
		Credential   string `json:"credential"`
		MCPURL       string `json:"mcp_url"`
	}
	var compromised, bystander share
	capsolJSON(t, e, 0, &compromised, "shares", "create", capsule.ID, "--label", "laptop-bot", "--role", "writer")
	capsolJSON(t, e, 0, &bystander, "shares", "create", capsule.ID, "--label", "ci-reader", "--role", "reader")
	if status, _ := mcpInitialize(t, compromised.MCPURL, compromised.Credential); status != http.StatusOK {
		t.Fatalf("the share does not work before the incident: %d", status)
	}

	r := run(t, e, capsolBin, "connections", "revoke", "--label", "laptop-bot")
	if r.code != 0 {
		t.Fatalf("connections revoke: exit %d\nstderr: %s", r.code, r.stderr)
	}
	assertContains(t, "stdout", r.stdout, compromised.ConnectionID)
	if status, code := mcpInitialize(t, compromised.MCPURL, compromised.Credential); status != http.StatusUnauthorized || code != "token_revoked" {
		t.Errorf("after the revocation the MCP call got %d %q, want 401 token_revoked", status, code)
	}
	if status, _ := mcpInitialize(t, bystander.MCPURL, bystander.Credential); status != http.StatusOK {
		t.Errorf("the other agent's share stopped working: %d", status)
	}

	capsolJSON(t, e, 0, nil, "connections", "pause", bystander.ConnectionID)
	if _, code := mcpInitialize(t, bystander.MCPURL, bystander.Credential); code != "connection_paused" {
		t.Errorf("a paused share got %q, want connection_paused", code)
	}
	capsolJSON(t, e, 0, nil, "connections", "resume", bystander.ConnectionID)
	if status, _ := mcpInitialize(t, bystander.MCPURL, bystander.Credential); status != http.StatusOK {
		t.Errorf("a resumed share got %d, want 200", status)
	}
	r = run(t, e, capsolBin, "connections", "resume", compromised.ConnectionID)
	if r.code != 1 {
		t.Errorf("resuming a revoked connection exited %d, want 1\nstderr: %s", r.code, r.stderr)
	}
	assertContains(t, "stderr", r.stderr, "conflict")
}
