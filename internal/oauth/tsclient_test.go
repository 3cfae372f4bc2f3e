package oauth_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tsClientDir = filepath.Join("..", "..", "e2e", "tsclient")

func TestTypeScriptSDKAuthFlow(t *testing.T) {
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is required for the TypeScript SDK test; install Node.js 20 or newer")
	_, err = os.Stat(filepath.Join(tsClientDir, "node_modules", "@modelcontextprotocol", "sdk"))
	require.NoError(t, err, "run: npm ci --prefix e2e/tsclient (make test does it)")

	e := startDaemon(t)
	capsuleID := e.capsule("typescript oauth")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "oauth_flow.mjs")
	cmd.Dir = tsClientDir
	cmd.Env = append(os.Environ(), "CAPSOL_MCP_URL="+e.mcpURL(capsuleID), "CAPSOL_URL="+e.d.URL, "CAPSOL_ADMIN_KEY="+adminKey)
	out, err := cmd.Output()
	stderr := ""
	if exitErr, ok := err.(*exec.ExitError); ok {
		stderr = string(exitErr.Stderr)
	}
	require.NoError(t, err, "node oauth_flow.mjs failed:\n%s\n%s", out, stderr)

	steps := map[string]map[string]any{}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(scanner.Bytes(), &line), scanner.Text())
		steps[line["step"].(string)] = line
	}

	authorize := steps["authorize"]
	assert.EqualValues(t, 200, authorize["waiting_status"], "the authorization page waits for approval")
	assert.Equal(t, true, authorize["waiting_page"])
	assert.Equal(t, "approved", authorize["grant_status"])
	assert.EqualValues(t, 302, authorize["redirect_status"])
	assert.Equal(t, true, authorize["client_registered"])

	assert.Equal(t, false, steps["tools"]["write_error"])
	assert.Equal(t, "written with an OAuth token", steps["tools"]["content"])

	refresh := steps["refresh"]
	assert.Equal(t, "AUTHORIZED", refresh["result"])
	assert.Equal(t, true, refresh["rotated"])
	assert.Equal(t, "token_revoked", refresh["old_access"].(map[string]any)["error_code"])
	assert.EqualValues(t, 200, refresh["new_access"].(map[string]any)["status"])

	reuse := steps["reuse"]
	assert.EqualValues(t, 400, reuse["status"])
	assert.Equal(t, "invalid_grant", reuse["error"])
	assert.Equal(t, "token_revoked", reuse["new_access"].(map[string]any)["error_code"], "reuse revokes the whole family")

	revoke := steps["revoke"]
	assert.EqualValues(t, 200, revoke["status"])
	assert.Equal(t, "token_revoked", revoke["access"].(map[string]any)["error_code"])
	assert.EqualValues(t, 400, revoke["refresh_status"])
	assert.Equal(t, "invalid_grant", revoke["refresh_error"])
}
