package mcpserver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/nodesdk"
	"github.com/capsol/capsol/internal/store"
)

func TestTypeScriptSDKClient(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "typescript")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	reader := seedShare(t, d, capsuleID, store.RoleReader, shareOptions{})
	revoked := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	setShareStatus(t, d, revoked.connectionID, store.StatusRevoked)

	steps := nodesdk.Run(t, "share_flow.mjs", "CAPSOL_MCP_URL="+d.URL+"/mcp/"+capsuleID,
		"CAPSOL_WRITER_CREDENTIAL="+writer.credential,
		"CAPSOL_READER_CREDENTIAL="+reader.credential,
		"CAPSOL_REVOKED_CREDENTIAL="+revoked.credential)

	assert.Contains(t, steps["list_tools"]["tools"], "write_entry")
	assert.Contains(t, steps["list_tools"]["tools"], "search_entries")
	assert.Len(t, steps["list_tools"]["tools"], 13)
	assert.Equal(t, "notes://ts/greeting", steps["write_entry"]["uri"])
	assert.EqualValues(t, 1, steps["write_entry"]["version"])
	assert.Equal(t, "# Hello from TypeScript\n\nThe quick brown fox.", steps["read_entry"]["content"])
	hits := steps["search_entries"]["hits"].([]any)
	require.NotEmpty(t, hits)
	assert.Equal(t, "notes://ts/greeting", hits[0].(map[string]any)["uri"])
	assert.Equal(t, "notes://ts/greeting", steps["read_resource"]["uri"])
	assert.Equal(t, "# Hello from TypeScript\n\nThe quick brown fox.", steps["read_resource"]["text"])

	assert.Equal(t, true, steps["reader_write"]["isError"])
	assert.Equal(t, "forbidden", steps["reader_write"]["result"].(map[string]any)["error_code"])

	assert.Equal(t, true, steps["revoked"]["connect_failed"])
	assert.EqualValues(t, 401, steps["revoked"]["status"])
	assert.Equal(t, "token_revoked", steps["revoked"]["error_code"])
	assert.Contains(t, steps["revoked"]["www_authenticate"], "resource_metadata=")
}
