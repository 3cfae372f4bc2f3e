package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI output tests")

const goldenAdminKey = "golden-admin-key-0123456789"

// fakeAPI serves fixed /v1 responses, the same on every run, so the output
// of the list commands can be compared with golden files.
func fakeAPI(t *testing.T) *httptest.Server {
	t.Helper()
	routes := map[string]string{
		"GET /health": `{"status":"ok","version":"0.20.0"}`,
		"GET /ready":  `{"status":"ready"}`,
		"GET /v1/capsules": `{"capsules":[
			{"id":"cap_01jc0000000000000000000001","name":"design notes","owner_id":"op_01jc0000000000000000000001","anonymous":false,"created_at":"2026-01-02T03:04:05Z","expires_at":null,"entry_count":12},
			{"id":"cap_01jc0000000000000000000002","name":"scratch","owner_id":null,"anonymous":true,"created_at":"2026-01-03T00:00:00Z","expires_at":"2026-01-10T00:00:00Z","entry_count":0}]}`,
		"GET /v1/connections": `{"connections":[
			{"connection_id":"con_01jc0000000000000000000001","label":"laptop-bot","role":"writer","capsule_id":"cap_01jc0000000000000000000001","principal_id":"prn_01jc0000000000000000000001","kind":"share","status":"active","created_at":"2026-01-02T03:05:00Z","last_used_at":"2026-01-05T10:00:00Z","expires_at":null},
			{"connection_id":"con_01jc0000000000000000000002","label":"ci-reader","role":"reader","capsule_id":"cap_01jc0000000000000000000001","principal_id":"prn_01jc0000000000000000000002","kind":"share","status":"paused","created_at":"2026-01-02T03:06:00Z","last_used_at":null,"expires_at":null},
			{"connection_id":"con_01jc0000000000000000000003","label":"Claude Code","role":"writer","capsule_id":"cap_01jc0000000000000000000002","principal_id":"prn_01jc0000000000000000000003","kind":"oauth","status":"revoked","created_at":"2026-01-04T00:00:00Z","last_used_at":"2026-01-04T01:00:00Z","expires_at":"2026-02-03T00:00:00Z"}]}`,
		"GET /v1/grants": `{"grants":[
			{"id":"grt_01jc0000000000000000000001","capsule_id":"cap_01jc0000000000000000000001","principal_id":"prn_01jc0000000000000000000003","client_name":"Claude Code","role":"writer","status":"approved","requested_at":"2026-01-04T00:00:00Z","approved_by":"admin-key","revoked_by":null,"revoked_at":null},
			{"id":"grt_01jc0000000000000000000002","capsule_id":"cap_01jc0000000000000000000001","principal_id":"prn_01jc0000000000000000000004","client_name":"Cursor","role":"reader","status":"pending","requested_at":"2026-01-06T00:00:00Z","approved_by":null,"revoked_by":null,"revoked_at":null},
			{"id":"grt_01jc0000000000000000000003","capsule_id":"cap_01jc0000000000000000000002","principal_id":"prn_01jc0000000000000000000005","client_name":"mcp-remote","role":"reader","status":"revoked","requested_at":"2026-01-03T00:00:00Z","approved_by":"op_01jc0000000000000000000001","revoked_by":"policy","revoked_at":"2026-01-05T00:00:00Z"}]}`,
		"GET /v1/capsules/cap_01jc0000000000000000000001/enrollments": `{"enrollments":[
			{"enrollment_id":"enr_01jc0000000000000000000001","capsule_id":"cap_01jc0000000000000000000001","role":"writer","label":"fleet","uses_left":3,"status":"active","created_at":"2026-01-02T04:00:00Z","expires_at":"2026-01-03T04:00:00Z","revoked_at":null}]}`,
		"GET /v1/capsules/cap_01jc0000000000000000000002/enrollments": `{"enrollments":[
			{"enrollment_id":"enr_01jc0000000000000000000002","capsule_id":"cap_01jc0000000000000000000002","role":"reader","label":"","uses_left":0,"status":"exhausted","created_at":"2026-01-03T01:00:00Z","expires_at":"2026-01-04T01:00:00Z","revoked_at":null}]}`,
		"GET /v1/capsules/cap_01jc0000000000000000000001/logs": `{"entries":[
			{"ts":"2026-01-05T10:00:00.123Z","connection_id":"con_01jc0000000000000000000001","principal_id":"prn_01jc0000000000000000000001","kind":"share","method":"tools/call","tool":"read_entry","uri":"notes://design/auth","outcome":"ok","error_code":"","duration_ms":3,"remote_addr":"127.0.0.1","prev":"0000000000000000000000000000000000000000000000000000000000000000"},
			{"ts":"2026-01-05T10:01:00Z","connection_id":"con_01jc0000000000000000000002","principal_id":"prn_01jc0000000000000000000002","kind":"share","method":"initialize","tool":"","uri":"","outcome":"denied","error_code":"connection_paused","duration_ms":0,"remote_addr":"127.0.0.1","prev":"5f0c4bd9d8b6a4bbd3d8e8c0b0d1e6a9b7f4b0b6f0b2a2d7b1e7c2a3d4e5f6a7"}]}`,
		"GET /v1/operators": `{"operators":[
			{"id":"op_01jc0000000000000000000001","email":"alice@example.com","name":"Alice","role":"admin","status":"active","created_at":"2026-01-01T00:00:00Z","last_login_at":"2026-01-05T09:00:00Z"},
			{"id":"op_01jc0000000000000000000002","email":"bob@example.com","name":"","role":"viewer","status":"disabled","created_at":"2026-01-02T00:00:00Z","last_login_at":null}]}`,
		"GET /v1/operators/invites": `{"invites":[
			{"invite_id":"inv_01jc0000000000000000000001","email":"carol@example.com","role":"approver","status":"pending","created_by":"op_01jc0000000000000000000001","created_at":"2026-01-05T00:00:00Z","expires_at":"2026-01-12T00:00:00Z","consumed_at":null,"revoked_at":null}]}`,
		"GET /v1/policy":   `{"allowed_roles":["reader","writer"],"max_grant_age_days":90,"max_idle_days":0,"allow_anonymous_capsules":true,"anonymous_capsule_ttl_hours":168,"signal_ttl_seconds":86400,"max_pending_grants_per_capsule":20}`,
		"GET /v1/settings": `{"public_url":"https://capsol.example.com","oidc":{"issuer":"https://accounts.example.com","client_id":"capsol","client_secret":"re-enter this value"},"smtp_url":"set"}`,
	}

	mux := http.NewServeMux()
	for pattern, body := range routes {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/v1/") && r.Header.Get("Authorization") != "Bearer "+goldenAdminKey {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"admin key does not match","error_code":"invalid_token"}`))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			if status := r.URL.Query().Get("status"); status != "" {
				body = filterByStatus(t, body, status)
			}
			_, _ = w.Write([]byte(body))
		})
	}
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server
}

// filterByStatus keeps the items of the one list in body whose "status"
// is status, as the API's status filters do.
func filterByStatus(t *testing.T, body, status string) string {
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Errorf("the fake API filters only lists by status: %v", err)
		return body
	}
	for key, items := range doc {
		kept := []map[string]any{}
		for _, item := range items {
			if item["status"] == status {
				kept = append(kept, item)
			}
		}
		doc[key] = kept
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// goldenLogDir writes a data directory with a registry audit and one
// capsule log of fixed lines, so that their hashes are the same on every
// run.
func goldenLogDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Initialize(dir); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	write := func(logDir string, records ...any) {
		log, err := auditlog.Open(logDir, auditlog.Options{Now: func() time.Time { return day }})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			if err := log.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := log.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, store.AuditDir),
		auditlog.RegistryRecord{TS: day, Actor: "admin-key", Action: "capsule.create", Target: "cap_01jc0000000000000000000001"})
	write(filepath.Join(dir, store.BoxesDir, "cap_01jc0000000000000000000001", ".capsol", "logs"),
		auditlog.CapsuleRecord{TS: day, ConnectionID: "con_01jc0000000000000000000001", Kind: "share", Method: "tools/call", Tool: "read_entry", URI: "notes://design/auth", Outcome: auditlog.OutcomeOK},
		auditlog.CapsuleRecord{TS: day.Add(time.Minute), ConnectionID: "con_01jc0000000000000000000001", Kind: "share", Method: "tools/call", Tool: "write_entry", URI: "notes://design/auth", Outcome: auditlog.OutcomeOK})
	return dir
}

func TestGoldenOutput(t *testing.T) {
	server := fakeAPI(t)
	dataDir := goldenLogDir(t)
	api := []string{"--server", server.URL, "--key", goldenAdminKey, "--data-dir", t.TempDir()}
	offline := []string{"--data-dir", dataDir}

	tests := []struct {
		command, name string
		args          []string
	}{
		{"connections-list", "table", join(api, "connections", "list", "-o", "table")},
		{"connections-list", "json", join(api, "connections", "list", "-o", "json")},
		{"grants-list", "table", join(api, "grants", "list", "-o", "table")},
		{"grants-list", "all-json", join(api, "grants", "list", "--all", "-o", "json")},
		{"capsules-list", "table", join(api, "capsules", "list", "-o", "table")},
		{"capsules-list", "unowned-json", join(api, "capsules", "list", "--unowned", "-o", "json")},
		{"enrollments-list", "table", join(api, "enrollments", "list", "-o", "table")},
		{"enrollments-list", "json", join(api, "enrollments", "list", "-o", "json")},
		{"logs-show", "table", join(api, "logs", "show", "cap_01jc0000000000000000000001", "-o", "table")},
		{"logs-show", "json", join(api, "logs", "show", "cap_01jc0000000000000000000001", "-o", "json")},
		{"operators-list", "table", join(api, "operators", "list", "-o", "table")},
		{"operators-list", "json", join(api, "operators", "list", "-o", "json")},
		{"operators-list", "invites-table", join(api, "operators", "list", "--invites", "-o", "table")},
		{"policy-get", "table", join(api, "policy", "get", "-o", "table")},
		{"policy-get", "json", join(api, "policy", "get", "-o", "json")},
		{"settings-get", "table", join(api, "settings", "get", "-o", "table")},
		{"settings-get", "json", join(api, "settings", "get", "-o", "json")},
		{"status", "table", join(api, "status", "-o", "table")},
		{"status", "json", join(api, "status", "-o", "json")},
		{"logs-verify", "table", join(offline, "logs", "verify", "-o", "table")},
		{"logs-verify", "json", join(offline, "logs", "verify", "-o", "json")},
	}
	for _, tt := range tests {
		t.Run(tt.command+"/"+tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Execute(tt.args, &stdout, &stderr); code != ExitOK {
				t.Fatalf("exit status %d\nstderr: %s", code, stderr.String())
			}
			got := strings.ReplaceAll(stdout.String(), server.URL, "http://SERVER")
			got = strings.ReplaceAll(got, dataDir, "DATA_DIR")
			compareGolden(t, filepath.Join("testdata", tt.command, tt.name+".golden"), got)
		})
	}
}

// compareGolden compares got with the golden file, or rewrites the file
// with -update.
func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the golden file: %v; create it with go test ./internal/cli -run TestGoldenOutput -update", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rewrite it with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
