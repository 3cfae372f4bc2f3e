package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/cli/connections"
	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

// share is the JSON output of capsol shares create.
type share struct {
	ConnectionID string `json:"connection_id"`
	Credential   string `json:"credential"`
	MCPURL       string `json:"mcp_url"`
	CapsuleID    string `json:"capsule_id"`
	ClientConfig struct {
		MCPServers map[string]struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"mcpServers"`
	} `json:"client_config"`
}

// createShare creates a capsule and a share of it through the CLI.
func createShare(t *testing.T, api []string, label, role string) share {
	t.Helper()
	var capsule client.Capsule
	runJSON(t, &capsule, join(api, "capsules", "create", "runbook "+label)...)
	var s share
	runJSON(t, &s, join(api, "shares", "create", capsule.ID, "--label", label, "--role", role)...)
	return s
}

func TestSharesCreatePrintsAWorkingConfig(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}

	s := createShare(t, api, "Laptop Bot", "writer")
	server, ok := s.ClientConfig.MCPServers["laptop-bot"]
	if !ok {
		t.Fatalf("client_config has no server named laptop-bot: %+v", s.ClientConfig)
	}
	if server.URL != s.MCPURL || server.Headers["Authorization"] != "Bearer "+s.Credential {
		t.Errorf("client_config %+v does not carry the MCP URL %s and the credential", server, s.MCPURL)
	}
	if status, code := mcpStatus(t, server.URL, strings.TrimPrefix(server.Headers["Authorization"], "Bearer ")); status != http.StatusOK {
		t.Errorf("the configured credential got %d %s, want 200", status, code)
	}

	code, stdout, _ := run(t, join(api, "shares", "create", s.CapsuleID, "--label", "second", "--role", "reader", "-o", "table")...)
	if code != ExitOK || !strings.Contains(stdout, "capsol_share_") || !strings.Contains(stdout, `"mcpServers"`) || !strings.Contains(stdout, "claude mcp add") {
		t.Errorf("the table output lacks the credential, the mcpServers entry or the claude command (exit %d):\n%s", code, stdout)
	}
}

func TestRevokeRunbook(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	compromised := createShare(t, api, "laptop-bot", "writer")
	bystander := createShare(t, api, "ci-reader", "reader")
	if status, _ := mcpStatus(t, compromised.MCPURL, compromised.Credential); status != http.StatusOK {
		t.Fatalf("the share does not work before the incident: %d", status)
	}

	var revoked connections.StatusResult
	runJSON(t, &revoked, join(api, "connections", "revoke", "--label", "laptop-bot")...)
	if len(revoked.Connections) != 1 || revoked.Connections[0].ConnectionID != compromised.ConnectionID || revoked.Connections[0].Status != "revoked" {
		t.Fatalf("revoke printed %+v, want the laptop-bot connection revoked", revoked)
	}
	if status, code := mcpStatus(t, compromised.MCPURL, compromised.Credential); status != http.StatusUnauthorized || code != "token_revoked" {
		t.Errorf("after revoke the MCP call got %d %q, want 401 token_revoked", status, code)
	}
	if status, _ := mcpStatus(t, bystander.MCPURL, bystander.Credential); status != http.StatusOK {
		t.Errorf("the other agent's share stopped working: %d", status)
	}

	runJSON(t, &revoked, join(api, "connections", "revoke", compromised.ConnectionID)...)
	if len(revoked.Unchanged) != 1 {
		t.Errorf("revoking again reported %+v, want the id as unchanged", revoked)
	}

	// Pausing is the reversible variant.
	runJSON(t, &revoked, join(api, "connections", "pause", bystander.ConnectionID)...)
	if status, code := mcpStatus(t, bystander.MCPURL, bystander.Credential); code != "connection_paused" {
		t.Errorf("a paused share got %d %q, want connection_paused", status, code)
	}
	runJSON(t, &revoked, join(api, "connections", "resume", "--label", "ci-reader")...)
	if status, _ := mcpStatus(t, bystander.MCPURL, bystander.Credential); status != http.StatusOK {
		t.Errorf("a resumed share got %d, want 200", status)
	}

	code, _, stderr := run(t, join(api, "connections", "resume", compromised.ConnectionID)...)
	if code != ExitFailure || !strings.Contains(stderr, "conflict") {
		t.Errorf("resuming a revoked connection: exit %d, stderr %q; want 1 and a conflict", code, stderr)
	}
}

func TestRevokeAsksOnATerminal(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	s := createShare(t, api, "laptop-bot", "writer")
	c := client.New(d.URL, testAdminKey, nil)

	var stderr bytes.Buffer
	var asked string
	opts := &connections.StatusOptions{
		Client: c, Printer: cmdutil.Printer{Out: &bytes.Buffer{}, Format: cmdutil.FormatTable},
		IDs: []string{s.ConnectionID}, Status: connections.StatusRevoked, Stderr: &stderr,
		Confirm: func(question string) (bool, error) { asked = question; return false, nil },
	}
	err := connections.RunSetStatus(context.Background(), opts)
	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != ExitFailure || !errors.Is(err, cmdutil.ErrCancelled) {
		t.Fatalf("declined revoke returned %v, want ErrCancelled with exit status 1", err)
	}
	if !strings.Contains(asked, "final") || !strings.Contains(stderr.String(), s.ConnectionID) {
		t.Errorf("the question %q or the list %q does not show what is revoked", asked, stderr.String())
	}
	if status, _ := mcpStatus(t, s.MCPURL, s.Credential); status != http.StatusOK {
		t.Errorf("a declined revoke changed the connection: MCP status %d", status)
	}

	opts.Confirm = func(string) (bool, error) { return true, nil }
	if err := connections.RunSetStatus(context.Background(), opts); err != nil {
		t.Fatalf("confirmed revoke: %v", err)
	}
	if _, code := mcpStatus(t, s.MCPURL, s.Credential); code != "token_revoked" {
		t.Errorf("a confirmed revoke left the connection usable: %q", code)
	}
}

// pruneResult is the part of the JSON output of capsol logs prune that
// the test reads.
type pruneResult struct {
	DryRun bool `json:"dry_run"`
	Files  int  `json:"files"`
	Logs   []struct {
		Log   string   `json:"log"`
		Files []string `json:"files"`
	} `json:"logs"`
}

type verifyResult struct {
	OK   bool `json:"ok"`
	Logs []struct {
		Log  string `json:"log"`
		OK   bool   `json:"ok"`
		Head string `json:"head"`
	} `json:"logs"`
}

// appendLog appends one record dated at to the audit log in dir.
func appendLog(t *testing.T, dir string, at time.Time, record any) {
	t.Helper()
	log, err := auditlog.Open(dir, auditlog.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Append(record); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
}

func dayFile(t time.Time) string { return t.UTC().Format(time.DateOnly) + ".jsonl" }

func TestLogsPruneRunbook(t *testing.T) {
	clearEnv(t)
	now := time.Now().UTC()
	dataDir := filepath.Join(t.TempDir(), "data")
	generated, err := genregistry.Generate(genregistry.Options{Dir: dataDir, Capsules: 2, Size: 64 << 10, Seed: 3, Now: now.AddDate(0, 0, -120)})
	if err != nil {
		t.Fatal(err)
	}
	capsuleID := generated.IDs[0]
	capsuleLogs := filepath.Join(dataDir, store.BoxesDir, capsuleID, ".capsol", "logs")
	registryLog := filepath.Join(dataDir, store.AuditDir)
	old, recent := now.AddDate(0, 0, -100), now.AddDate(0, 0, -30)
	appendLog(t, capsuleLogs, old, auditlog.CapsuleRecord{Method: "tools/call", Tool: "read_entry", Outcome: auditlog.OutcomeOK})
	appendLog(t, capsuleLogs, recent, auditlog.CapsuleRecord{Method: "tools/call", Tool: "read_entry", Outcome: auditlog.OutcomeOK})
	appendLog(t, registryLog, old, auditlog.RegistryRecord{Actor: "admin-key", Action: "capsule.create"})

	// The daemon chains today's lines onto the old ones.
	d := bootDaemonWith(t, config.Config{DataDir: dataDir, Home: filepath.Join(t.TempDir(), "home"), AdminKey: testAdminKey})
	api := []string{"--server", d.URL, "--key", testAdminKey, "--data-dir", dataDir}
	var s share
	runJSON(t, &s, join(api, "shares", "create", capsuleID, "--label", "agent", "--role", "reader")...)
	for range 2 {
		if status, _ := mcpStatus(t, s.MCPURL, s.Credential); status != http.StatusOK {
			t.Fatalf("MCP call: %d", status)
		}
	}
	d.stop()

	before := map[string]bool{}
	for _, name := range []string{dayFile(now.AddDate(0, 0, -121)), dayFile(old), dayFile(recent), dayFile(now)} {
		if _, err := os.Stat(filepath.Join(capsuleLogs, name)); err != nil {
			t.Fatalf("the capsule log lacks %s before the prune: %v", name, err)
		}
		before[name] = true
	}

	var plan pruneResult
	runJSON(t, &plan, join(api, "logs", "prune", "--older-than", "90d", "--dry-run")...)
	if !plan.DryRun || plan.Files < 3 {
		t.Fatalf("the dry run planned %+v, want at least 2 capsule files and 1 registry file", plan)
	}
	for name := range before {
		if _, err := os.Stat(filepath.Join(capsuleLogs, name)); err != nil {
			t.Errorf("the dry run removed %s: %v", name, err)
		}
	}

	archive := filepath.Join(t.TempDir(), "archive")
	var pruned pruneResult
	runJSON(t, &pruned, join(api, "logs", "prune", "--older-than", "90d", "--archive", archive)...)
	if pruned.DryRun || pruned.Files != plan.Files {
		t.Errorf("the prune removed %d files, the dry run planned %d", pruned.Files, plan.Files)
	}
	for _, name := range []string{dayFile(now.AddDate(0, 0, -121)), dayFile(old)} {
		if _, err := os.Stat(filepath.Join(capsuleLogs, name)); !os.IsNotExist(err) {
			t.Errorf("%s is still in the capsule log: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(archive, store.BoxesDir, capsuleID, name)); err != nil {
			t.Errorf("%s is not in the capsule's archive directory: %v", name, err)
		}
	}
	for _, name := range []string{dayFile(recent), dayFile(now)} {
		if _, err := os.Stat(filepath.Join(capsuleLogs, name)); err != nil {
			t.Errorf("the prune removed %s, which is younger than 90 days: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(archive, store.AuditDir, dayFile(old))); err != nil {
		t.Errorf("the registry audit was not archived: %v", err)
	}

	var verified verifyResult
	runJSON(t, &verified, join(api, "logs", "verify")...)
	if !verified.OK || len(verified.Logs) != 3 {
		t.Errorf("logs verify after the prune: %+v, want 3 whole chains", verified)
	}
	if report, err := auditlog.Verify(filepath.Join(archive, store.BoxesDir, capsuleID)); err != nil || !report.OK {
		t.Errorf("the archived capsule log is not a whole chain: %+v, %v", report, err)
	}

	runJSON(t, &pruned, join(api, "logs", "prune", "--older-than", "90d", "--archive", archive)...)
	if pruned.Files != 0 {
		t.Errorf("a second prune removed %d more files", pruned.Files)
	}

	// An edited line breaks the chain at the next line.
	todayPath := filepath.Join(capsuleLogs, dayFile(now))
	data, err := os.ReadFile(todayPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `"outcome":"ok"`, `"outcome":"no"`, 1)
	if edited == string(data) {
		t.Fatalf("today's log has no line to edit:\n%s", data)
	}
	if err := os.WriteFile(todayPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, join(api, "logs", "verify", capsuleID)...)
	if code != ExitFailure || !strings.Contains(stderr, todayPath+" line 2") {
		t.Errorf("verify of an edited log: exit %d, stderr %q; want 1 naming %s line 2", code, stderr, todayPath)
	}
}

func TestRotateSecretRunbook(t *testing.T) {
	clearEnv(t)
	root := t.TempDir()
	keyFile := filepath.Join(root, "secret.key")
	oldKey := "old-secret-key-material-0123456789abcdef"
	if err := os.WriteFile(keyFile, []byte(oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{DataDir: filepath.Join(root, "data"), Home: filepath.Join(root, "home"), AdminKey: testAdminKey, SecretKeyFile: keyFile}
	d := bootDaemonWith(t, cfg)
	api := []string{"--server", d.URL, "--key", testAdminKey, "--data-dir", cfg.DataDir}
	const smtpURL = "smtps://capsol:mail-password@mail.example.com:465?from=capsol@example.com"
	const clientSecret = "oidc-client-secret-value"
	code, _, stderr := runWithInput(t, smtpURL+"\n", join(api, "settings", "set", "--smtp-url", "-", "--oidc-issuer", "https://accounts.example.com", "--oidc-client-id", "capsol")...)
	if code != ExitOK {
		t.Fatalf("settings set: exit %d\n%s", code, stderr)
	}
	if code, _, stderr = runWithInput(t, clientSecret+"\n", join(api, "settings", "set", "--oidc-client-secret", "-")...); code != ExitOK {
		t.Fatalf("settings set: exit %d\n%s", code, stderr)
	}

	t.Setenv("CAPSOL_SECRET_KEY_FILE", keyFile)
	code, _, stderr = run(t, join(api, "keys", "rotate-secret")...)
	if code != ExitFailure || !strings.Contains(stderr, "stop it first") {
		t.Errorf("rotate-secret while the daemon runs: exit %d, stderr %q; want 1 and stop it first", code, stderr)
	}
	d.stop()

	var rotated struct {
		KeyFile     string   `json:"key_file"`
		Reencrypted []string `json:"reencrypted"`
		Cleared     []string `json:"cleared"`
	}
	runJSON(t, &rotated, join(api, "keys", "rotate-secret")...)
	if rotated.KeyFile != keyFile || len(rotated.Reencrypted) != 2 || len(rotated.Cleared) != 0 {
		t.Fatalf("rotate-secret printed %+v, want both settings re-encrypted into %s", rotated, keyFile)
	}
	newKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(newKey)) == oldKey || len(strings.TrimSpace(string(newKey))) < 32 {
		t.Fatalf("the key file was not replaced by a new key of 32 bytes or more: %q", newKey)
	}
	if info, err := os.Stat(keyFile); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the key file mode is %v, %v; want 0600", info.Mode(), err)
	}
	if _, err := os.Stat(keyFile + ".new"); !os.IsNotExist(err) {
		t.Errorf("the pending key file was left behind: %v", err)
	}

	// The daemon started with the new key reads both values back.
	d = bootDaemonWith(t, cfg)
	cipher, err := registry.NewSettingsCipher([]byte(strings.TrimSpace(string(newKey))))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := d.Registry.SMTPURL(cipher); err != nil || !ok || got != smtpURL {
		t.Errorf("SMTP URL after the rotation: %q, %v, %v", got, ok, err)
	}
	if oidc, ok, err := d.Registry.OIDCSettings(cipher); err != nil || !ok || oidc.ClientSecret != clientSecret {
		t.Errorf("OIDC client secret after the rotation: %+v, %v, %v", oidc, ok, err)
	}
	d.stop()

	// Without the old key the values are cleared and named for re-entry.
	otherFile := filepath.Join(root, "other.key")
	code, stdout, stderr := run(t, join(api, "keys", "rotate-secret", "--key-file", otherFile, "-o", "table")...)
	if code != ExitOK {
		t.Fatalf("rotate-secret without the old key: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Cleared", "oidc.client_secret", "smtp_url", "capsol settings set --oidc-client-secret -", "capsol settings set --smtp-url -"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the output does not contain %q:\n%s", want, stdout)
		}
	}
	d = bootDaemonWith(t, config.Config{DataDir: cfg.DataDir, Home: cfg.Home, AdminKey: testAdminKey, SecretKeyFile: otherFile})
	var settings client.Settings
	runJSON(t, &settings, "--server", d.URL, "--key", testAdminKey, "settings", "get")
	if settings.SMTPURL != nil || settings.OIDC.ClientSecret != nil || settings.OIDC.ClientID == nil {
		t.Errorf("settings after clearing: %+v; want no SMTP URL and no client secret, the client id kept", settings)
	}
}

// runWithInput runs capsol with stdin and returns the exit status, stdout
// and stderr.
func runWithInput(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := ExecuteWithInput(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
