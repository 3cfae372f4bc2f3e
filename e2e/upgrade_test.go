package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestUpgradeFixtures boots capsold on a copy of each older layout kept in
// internal/store/testdata, checks that it migrates to schema 4 without
// losing a value, and that a second boot changes no byte.
func TestUpgradeFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		layout string
		// owner of the first capsule after the migration: nil for layouts
		// from before capsule ownership (0.19)
		firstOwner any
		// enrollment expiry after the migration: nil (never expires) for
		// records from before 0.16
		enrollmentExpiry any
	}{
		{"v0.15", nil, nil},
		{"v0.16", nil, "2030-01-01T00:00:00Z"},
		{"v0.19", "op_01hq3ze0000000000000000001", "2030-01-01T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.layout, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			dataDir := e["CAPSOL_DATA_DIR"]
			copyDir(t, filepath.Join("..", "internal", "store", "testdata", tc.layout), dataDir)

			p := startDaemon(t, e)
			status, health := getJSON(t, localURL(e.port(t))+"/health")
			if status != http.StatusOK || health["version"] != "0.20.0" {
				t.Errorf("GET /health = %d %v, expected version 0.20.0", status, health)
			}
			p.stop(t)

			meta := readJSONFile(t, filepath.Join(dataDir, "meta.json"))
			if want := map[string]any{"version": "0.20.0", "schema": float64(4)}; !reflect.DeepEqual(meta, want) {
				t.Errorf("meta.json = %v, expected %v", meta, want)
			}
			assertMigratedRecords(t, dataDir, tc.firstOwner, tc.enrollmentExpiry)

			// Migrations are idempotent: booting the migrated directory
			// again rewrites nothing.
			migrated := snapshot(t, dataDir)
			startDaemon(t, e).stop(t)
			again := snapshot(t, dataDir)
			for name, was := range migrated {
				if name != "capsold.lock" && !bytes.Equal(was.data, again[name].data) {
					t.Errorf("%s changed on the second boot:\nbefore: %s\nafter:  %s", name, was.data, again[name].data)
				}
			}

			p = startDaemon(t, e)
			serveFixtureAgents(t, localURL(e.port(t)))
			p.stop(t)
		})
	}
}

// records returns the array under key in an index file.
func records(t *testing.T, dataDir, file, key string) []map[string]any {
	t.Helper()
	list, ok := readJSONFile(t, filepath.Join(dataDir, file))[key].([]any)
	if !ok {
		t.Fatalf("%s has no %q array", file, key)
	}
	out := make([]map[string]any, 0, len(list))
	for i, item := range list {
		rec, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s[%d] is not an object", file, key, i)
		}
		out = append(out, rec)
	}
	return out
}

func assertMigratedRecords(t *testing.T, dataDir string, firstOwner, enrollmentExpiry any) {
	t.Helper()

	capsules := records(t, dataDir, "capsules.json", "capsules")
	if len(capsules) != 2 {
		t.Fatalf("capsules.json has %d capsules, expected the fixture's 2", len(capsules))
	}
	if got, ok := capsules[0]["owner_id"]; !ok || got != firstOwner {
		t.Errorf("capsules[0].owner_id = %v (present: %v), expected %v", got, ok, firstOwner)
	}
	if got, ok := capsules[1]["owner_id"]; !ok || got != nil {
		t.Errorf("capsules[1].owner_id = %v (present: %v), expected null", got, ok)
	}
	if capsules[1]["name"] != "scratch <agents> & co" {
		t.Errorf("capsules[1].name = %v, expected the fixture's name with <, > and & unescaped", capsules[1]["name"])
	}

	for i, c := range records(t, dataDir, "credentials.json", "credentials") {
		if got, ok := c["expires_at"]; !ok || got != nil {
			t.Errorf("credentials[%d].expires_at = %v (present: %v), expected null: credentials from before 0.16 never expire", i, got, ok)
		}
	}

	shares := records(t, dataDir, "shares.json", "shares")
	wantStatus := []string{"active", "paused"}
	for i, s := range shares {
		if s["kind"] != "share" {
			t.Errorf("shares[%d].kind = %v, expected share", i, s["kind"])
		}
		if i < len(wantStatus) && s["status"] != wantStatus[i] {
			t.Errorf("shares[%d].status = %v, expected the fixture's %s", i, s["status"], wantStatus[i])
		}
	}
	if shares[0]["last_used_at"] != "2024-03-02T11:30:00Z" {
		t.Errorf("shares[0].last_used_at = %v, expected the fixture's 2024-03-02T11:30:00Z", shares[0]["last_used_at"])
	}

	enrollments := records(t, dataDir, "enrollments.json", "enrollments")
	if got, ok := enrollments[0]["expires_at"]; !ok || got != enrollmentExpiry {
		t.Errorf("enrollments[0].expires_at = %v (present: %v), expected %v", got, ok, enrollmentExpiry)
	}
	if enrollments[0]["uses_left"] != float64(5) {
		t.Errorf("enrollments[0].uses_left = %v, expected the fixture's 5", enrollments[0]["uses_left"])
	}
}

// serveFixtureAgents checks that the agents of a fixture keep working after
// the upgrade: its writer share reaches its capsule over MCP, its paused
// reader share is still paused, and its enrollment token still enrolls.
func serveFixtureAgents(t *testing.T, baseURL string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "store", "testdata", "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]string
	if err := json.Unmarshal(data, &creds); err != nil {
		t.Fatal(err)
	}

	if status, code := mcpInitialize(t, baseURL+"/mcp/"+creds["writer_capsule"], creds["share_writer"]); status != http.StatusOK {
		t.Errorf("the fixture's writer share got %d %q after the upgrade, expected 200", status, code)
	}
	if _, code := mcpInitialize(t, baseURL+"/mcp/"+creds["reader_capsule"], creds["share_reader_paused"]); code != "connection_paused" {
		t.Errorf("the fixture's paused share got %q, expected connection_paused", code)
	}

	body := `{"token":"` + creds["enrollment"] + `","label":"after-upgrade"}`
	resp, err := httpClient.Post(baseURL+"/enroll", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var enrolled map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&enrolled)
	if resp.StatusCode != http.StatusCreated || enrolled["capsule_id"] != creds["writer_capsule"] {
		t.Fatalf("POST /enroll with the fixture's token = %d %v, expected 201 for %s", resp.StatusCode, enrolled, creds["writer_capsule"])
	}
	if status, code := mcpInitialize(t, enrolled["mcp_url"].(string), enrolled["credential"].(string)); status != http.StatusOK {
		t.Errorf("the enrolled credential got %d %q, expected 200", status, code)
	}
}
