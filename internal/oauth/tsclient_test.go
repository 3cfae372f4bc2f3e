package oauth_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/capsol/capsol/internal/nodesdk"
)

func TestTypeScriptSDKAuthFlow(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("typescript oauth")

	steps := nodesdk.Run(t, "oauth_flow.mjs", "CAPSOL_MCP_URL="+e.mcpURL(capsuleID), "CAPSOL_URL="+e.d.URL, "CAPSOL_ADMIN_KEY="+adminKey)

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
