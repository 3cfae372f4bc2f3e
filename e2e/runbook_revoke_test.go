package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The two steps of "Revoke a compromised agent in under 60 seconds" on the
// operations page, character for character. Only localhost:4000 is replaced
// by the port of the scratch daemon when it is not 4000.
const (
	revokeStepFind = `curl -s -H "Authorization: Bearer $ADMIN" localhost:4000/v1/connections | \
  python3 -c "import json,sys; [print(c['connection_id'], c['label'], c['role']) for c in json.load(sys.stdin)['connections']]"`
	revokeStepRevoke = `curl -s -X PATCH -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" \
  -d '{"status":"revoked"}' localhost:4000/v1/shares/<connection_id>`
)

const runbookAdminKey = "runbook-admin-key-0123456789abcdef"

// adminPOST sends an admin API request to the daemon and decodes the response.
func adminPOST(t *testing.T, port int, path string, body any) map[string]any {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, localURL(port)+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+runbookAdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: status %d, %v %v", path, resp.StatusCode, out, err)
	}
	return out
}

// mcpInitialize sends an MCP initialize request with a credential and
// returns the status and error_code.
func mcpInitialize(t *testing.T, mcpURL, credential string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"runbook","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error_code"].(string)
	return resp.StatusCode, code
}

func runRunbookStep(t *testing.T, script string, env []string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("runbook step failed: %v\n%s\nstderr: %s", err, script, stderr.String())
	}
	return string(out)
}

func TestRunbookRevokeCompromisedAgent(t *testing.T) {
	for _, tool := range []string{"curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the runbook needs %s on PATH: %v", tool, err)
		}
	}
	e := newEnv(t).with("CAPSOL_ADMIN_KEY", runbookAdminKey)
	startDaemon(t, e)
	port := e.port(t)

	capsule := adminPOST(t, port, "/v1/capsules", map[string]any{"name": "incident"})
	capsuleID := capsule["id"].(string)
	compromised := adminPOST(t, port, "/v1/capsules/"+capsuleID+"/shares", map[string]any{"label": "laptop-bot", "role": "writer"})
	bystander := adminPOST(t, port, "/v1/capsules/"+capsuleID+"/shares", map[string]any{"label": "ci-reader", "role": "reader"})
	mcpURL := compromised["mcp_url"].(string)

	status, _ := mcpInitialize(t, mcpURL, compromised["credential"].(string))
	if status != http.StatusOK {
		t.Fatalf("the share works before the incident: status %d", status)
	}

	literal := func(step string) string {
		return strings.ReplaceAll(step, "localhost:4000", "localhost:"+strconv.Itoa(port))
	}
	shellEnv := []string{"PATH=" + e["PATH"], "ADMIN=" + runbookAdminKey}
	started := time.Now()

	// 1. Find the connection.
	listing := runRunbookStep(t, literal(revokeStepFind), shellEnv)
	connectionID := ""
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("step 1 printed %q, expected connection_id label role", line)
		}
		rows++
		if fields[1] == "laptop-bot" {
			connectionID = fields[0]
			if fields[2] != "writer" {
				t.Errorf("role of laptop-bot is %q, expected writer", fields[2])
			}
		}
	}
	if rows != 2 || connectionID != compromised["connection_id"] {
		t.Fatalf("step 1 listed %d rows and %q for laptop-bot, expected 2 rows and %v:\n%s", rows, connectionID, compromised["connection_id"], listing)
	}

	// 2. Revoke it.
	revoked := runRunbookStep(t, strings.ReplaceAll(literal(revokeStepRevoke), "<connection_id>", connectionID), shellEnv)
	var connection map[string]any
	if err := json.Unmarshal([]byte(revoked), &connection); err != nil {
		t.Fatalf("step 2 printed %q, expected the connection as JSON: %v", revoked, err)
	}
	if connection["status"] != "revoked" || connection["connection_id"] != connectionID {
		t.Fatalf("step 2 answered %v", connection)
	}

	// The next MCP call gets 401 token_revoked.
	status, code := mcpInitialize(t, mcpURL, compromised["credential"].(string))
	elapsed := time.Since(started)
	if status != http.StatusUnauthorized || code != "token_revoked" {
		t.Fatalf("after the revocation the MCP call got %d %q, expected 401 token_revoked", status, code)
	}
	if elapsed > 60*time.Second {
		t.Errorf("the runbook took %v, the page promises under 60 seconds", elapsed)
	}
	status, _ = mcpInitialize(t, mcpURL, bystander["credential"].(string))
	if status != http.StatusOK {
		t.Errorf("the other agent's share stopped working: status %d", status)
	}

	// Pausing is the reversible variant.
	pause := strings.ReplaceAll(strings.ReplaceAll(literal(revokeStepRevoke), "<connection_id>", bystander["connection_id"].(string)), `"revoked"`, `"paused"`)
	runRunbookStep(t, pause, shellEnv)
	if _, code := mcpInitialize(t, mcpURL, bystander["credential"].(string)); code != "connection_paused" {
		t.Errorf("a paused share got %q, expected connection_paused", code)
	}
	resume := strings.ReplaceAll(pause, `"paused"`, `"active"`)
	runRunbookStep(t, resume, shellEnv)
	if status, _ := mcpInitialize(t, mcpURL, bystander["credential"].(string)); status != http.StatusOK {
		t.Errorf("a resumed share got status %d, expected 200", status)
	}
	again := runRunbookStep(t, strings.ReplaceAll(resume, bystander["connection_id"].(string), connectionID), shellEnv)
	if !strings.Contains(again, `"conflict"`) {
		t.Errorf("reactivating a revoked share answered %q, expected a conflict", again)
	}
}
