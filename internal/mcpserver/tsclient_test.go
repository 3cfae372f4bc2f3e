package mcpserver_test

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

	"github.com/capsol/capsol/internal/store"
)

// tsClientDir holds the Node project with the official MCP TypeScript SDK;
// `make test` installs it with npm ci.
var tsClientDir = filepath.Join("..", "..", "e2e", "tsclient")

func TestTypeScriptSDKClient(t *testing.T) {
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is required for the TypeScript SDK test; install Node.js 20 or newer")
	_, err = os.Stat(filepath.Join(tsClientDir, "node_modules", "@modelcontextprotocol", "sdk"))
	require.NoError(t, err, "run: npm ci --prefix e2e/tsclient (make test does it)")

	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "typescript")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	reader := seedShare(t, d, capsuleID, store.RoleReader, shareOptions{})
	revoked := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	setShareStatus(t, d, revoked.connectionID, store.StatusRevoked)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "share_flow.mjs")
	cmd.Dir = tsClientDir
	cmd.Env = append(os.Environ(),
		"CAPSOL_MCP_URL="+d.URL+"/mcp/"+capsuleID,
		"CAPSOL_WRITER_CREDENTIAL="+writer.credential,
		"CAPSOL_READER_CREDENTIAL="+reader.credential,
		"CAPSOL_REVOKED_CREDENTIAL="+revoked.credential,
	)
	out, err := cmd.Output()
	var stderr string
	if exitErr, ok := err.(*exec.ExitError); ok {
		stderr = string(exitErr.Stderr)
	}
	require.NoError(t, err, "node share_flow.mjs failed:\n%s\n%s", out, stderr)

	steps := map[string]map[string]any{}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(scanner.Bytes(), &line), scanner.Text())
		steps[line["step"].(string)] = line
	}

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
