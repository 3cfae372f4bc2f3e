package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

func TestCreateShare(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)

	resp := send(t, http.MethodPost, reg.URL+"/v1/capsules/"+capsule.ID+"/shares", testAdminKey, `{"label":"ci bot","role":"writer"}`)
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	require.ElementsMatch(t, []string{"connection_id", "credential", "mcp_url", "role", "label"}, mapKeys(resp.JSON))
	require.True(t, ids.Valid(ids.Connection, resp.JSON["connection_id"].(string)))
	require.True(t, secret.CheckToken(resp.JSON["credential"].(string), secret.PrefixShare))
	publicURL := strings.Replace(reg.URL, "127.0.0.1", "localhost", 1)
	require.Equal(t, publicURL+"/mcp/"+capsule.ID, resp.JSON["mcp_url"])
	require.Equal(t, "writer", resp.JSON["role"])
	require.Equal(t, "ci bot", resp.JSON["label"])

	credentials, err := os.ReadFile(filepath.Join(reg.DataDir, store.CredentialsFile))
	require.NoError(t, err)
	require.NotContains(t, string(credentials), resp.JSON["credential"], "only the hash is stored")

	_, err = reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Role: "reader"})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	_, err = reg.Client.CreateShare(ctx, ids.New(ids.Capsule), client.CreateShareRequest{Label: "x", Role: "reader"})
	requireAPIError(t, err, http.StatusNotFound, "not_found")
}

func TestRolesFollowPolicy(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)

	_, err = reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "x", Role: "admin"})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	_, err = reg.Client.CreateEnrollment(ctx, capsule.ID, client.CreateEnrollmentRequest{Role: ""})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")

	setPolicy(t, reg.Store, func(p *store.Policy) { p.AllowedRoles = []string{store.RoleReader} })
	_, err = reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "x", Role: "writer"})
	apiErr := requireAPIError(t, err, http.StatusForbidden, "forbidden")
	require.Contains(t, apiErr.Message, "allowed_roles")
	_, err = reg.Client.CreateEnrollment(ctx, capsule.ID, client.CreateEnrollmentRequest{Role: "writer"})
	requireAPIError(t, err, http.StatusForbidden, "forbidden")

	reader, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "x", Role: "reader"})
	require.NoError(t, err)
	require.Equal(t, "reader", reader.Role)
}

func TestConnectionsRunbookShape(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)
	share, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "laptop-claude", Role: "reader"})
	require.NoError(t, err)

	// Step 1 of the revoke runbook reads connection_id, label and role of
	// every item of "connections".
	resp := send(t, http.MethodGet, reg.URL+"/v1/connections", testAdminKey, "")
	require.Equal(t, http.StatusOK, resp.Status)
	var body struct {
		Connections []map[string]any `json:"connections"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &body))
	require.Len(t, body.Connections, 1)
	c := body.Connections[0]
	require.ElementsMatch(t, []string{
		"connection_id", "label", "role", "capsule_id", "principal_id", "kind", "status",
		"created_at", "last_used_at", "expires_at",
	}, mapKeys(c))
	require.Equal(t, share.ConnectionID, c["connection_id"])
	require.Equal(t, "laptop-claude", c["label"])
	require.Equal(t, "reader", c["role"])
	require.Equal(t, capsule.ID, c["capsule_id"])
	require.Equal(t, "share", c["kind"])
	require.Equal(t, "active", c["status"])
	require.Nil(t, c["last_used_at"])
	require.Nil(t, c["expires_at"])

	// Step 2 revokes it with a raw PATCH.
	revoked := send(t, http.MethodPatch, reg.URL+"/v1/shares/"+share.ConnectionID, testAdminKey, `{"status":"revoked"}`)
	require.Equal(t, http.StatusOK, revoked.Status, "body: %s", revoked.Body)
	require.Equal(t, "revoked", revoked.JSON["status"])
}

func TestConnectionFilters(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	first, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "first"})
	require.NoError(t, err)
	second, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "second"})
	require.NoError(t, err)
	a, err := reg.Client.CreateShare(ctx, first.ID, client.CreateShareRequest{Label: "a", Role: "reader"})
	require.NoError(t, err)
	_, err = reg.Client.CreateShare(ctx, first.ID, client.CreateShareRequest{Label: "b", Role: "reader"})
	require.NoError(t, err)
	c, err := reg.Client.CreateShare(ctx, second.ID, client.CreateShareRequest{Label: "a", Role: "writer"})
	require.NoError(t, err)
	_, err = reg.Client.SetConnectionStatus(ctx, c.ConnectionID, "paused")
	require.NoError(t, err)

	byCapsule, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{CapsuleID: first.ID})
	require.NoError(t, err)
	require.Len(t, byCapsule, 2)
	byLabel, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{Label: "a"})
	require.NoError(t, err)
	require.Equal(t, []string{a.ConnectionID, c.ConnectionID}, connectionIDs(byLabel))
	paused, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{Status: "paused"})
	require.NoError(t, err)
	require.Equal(t, []string{c.ConnectionID}, connectionIDs(paused))
	none, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{CapsuleID: ids.New(ids.Capsule)})
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = reg.Client.ListConnections(ctx, client.ConnectionFilter{Status: "gone"})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
}

func TestShareStatusTransitions(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	var changed []string
	changes := make(chan string, 10)
	reg.Registry.OnConnectionChanged(func(id string) { changes <- id })
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)
	share, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "agent", Role: "writer"})
	require.NoError(t, err)
	id := share.ConnectionID

	for _, status := range []string{"paused", "active", "paused", "revoked"} {
		c, err := reg.Client.SetConnectionStatus(ctx, id, status)
		require.NoError(t, err, "set %s", status)
		require.Equal(t, status, c.Status)
	}
	for range 4 {
		changed = append(changed, <-changes)
	}
	require.Equal(t, []string{id, id, id, id}, changed, "every change closes the connection's streams")

	again, err := reg.Client.SetConnectionStatus(ctx, id, "revoked")
	require.NoError(t, err, "revoking again is no error")
	require.Equal(t, "revoked", again.Status)
	_, err = reg.Client.SetConnectionStatus(ctx, id, "active")
	apiErr := requireAPIError(t, err, http.StatusConflict, "conflict")
	require.Contains(t, apiErr.Message, "final")
	_, err = reg.Client.SetConnectionStatus(ctx, id, "paused")
	requireAPIError(t, err, http.StatusConflict, "conflict")

	_, err = reg.Client.SetConnectionStatus(ctx, id, "deleted")
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	missing := send(t, http.MethodPatch, reg.URL+"/v1/shares/"+id, testAdminKey, `{}`)
	requireError(t, missing, http.StatusBadRequest, "invalid_request")
	_, err = reg.Client.SetConnectionStatus(ctx, ids.New(ids.Connection), "paused")
	requireAPIError(t, err, http.StatusNotFound, "not_found")
}

func TestUsageCoalescedInSharesFile(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "busy"})
	require.NoError(t, err)
	share, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "chatty", Role: "reader"})
	require.NoError(t, err)
	path := filepath.Join(reg.DataDir, store.SharesFile)
	before, beforeInfo := readWithInfo(t, path)

	for range 5000 {
		reg.Registry.TouchConnection(share.ConnectionID)
	}

	after, afterInfo := readWithInfo(t, path)
	require.Equal(t, before, after, "touches write nothing")
	require.Equal(t, beforeInfo.ModTime(), afterInfo.ModTime())
	listed, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{})
	require.NoError(t, err)
	require.NotNil(t, listed[0].LastUsedAt, "the listing includes uses not yet written")
	require.WithinDuration(t, time.Now(), *listed[0].LastUsedAt, time.Minute)

	require.NoError(t, reg.Registry.FlushUsage())
	flushed, _ := readWithInfo(t, path)
	require.NotEqual(t, before, flushed)
	require.Contains(t, string(flushed), `"last_used_at": "`)

	for range 5000 {
		reg.Registry.TouchConnection(share.ConnectionID)
	}
	later, _ := readWithInfo(t, path)
	require.Equal(t, flushed, later, "the next write waits for the flusher")
}

func readWithInfo(t *testing.T, path string) ([]byte, os.FileInfo) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	return data, info
}

func connectionIDs(connections []client.Connection) []string {
	out := make([]string, 0, len(connections))
	for _, c := range connections {
		out = append(out, c.ConnectionID)
	}
	return out
}
