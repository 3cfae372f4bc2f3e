package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

func TestCapsuleLifecycle(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()

	created, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "Design notes"})
	require.NoError(t, err)
	require.True(t, ids.Valid(ids.Capsule, created.ID))
	require.Equal(t, "Design notes", created.Name)
	require.Nil(t, created.OwnerID)
	require.False(t, created.Anonymous)
	require.Nil(t, created.ExpiresAt)
	require.WithinDuration(t, time.Now(), created.CreatedAt, time.Minute)

	b, err := reg.Registry.Box(created.ID)
	require.NoError(t, err)
	_, err = b.WriteEntry(box.WriteRequest{URI: "notes://design/auth", Content: "# Auth"})
	require.NoError(t, err)

	got, err := reg.Client.GetCapsule(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, 1, got.EntryCount)

	_, err = reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "scratch"})
	require.NoError(t, err)
	all, err := reg.Client.ListCapsules(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	found, err := reg.Client.ListCapsules(ctx, "", "DESIGN")
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, created.ID, found[0].ID)
	require.Equal(t, 1, found[0].EntryCount)

	newName := "Auth design"
	renamed, err := reg.Client.UpdateCapsule(ctx, created.ID, client.UpdateCapsuleRequest{Name: &newName})
	require.NoError(t, err)
	require.Equal(t, newName, renamed.Name)

	require.NoError(t, reg.Client.DeleteCapsule(ctx, created.ID))
	_, err = reg.Client.GetCapsule(ctx, created.ID)
	requireAPIError(t, err, http.StatusNotFound, "not_found")
	err = reg.Client.DeleteCapsule(ctx, created.ID)
	requireAPIError(t, err, http.StatusNotFound, "not_found")
	_, err = reg.Client.UpdateCapsule(ctx, created.ID, client.UpdateCapsuleRequest{Name: &newName})
	requireAPIError(t, err, http.StatusNotFound, "not_found")
}

func TestCapsuleListShape(t *testing.T) {
	reg := bootDaemon(t)
	_, err := reg.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "shape"})
	require.NoError(t, err)

	resp := send(t, http.MethodGet, reg.URL+"/v1/capsules", testAdminKey, "")
	require.Equal(t, http.StatusOK, resp.Status)
	list := resp.JSON["capsules"].([]any)
	require.Len(t, list, 1)
	keys := mapKeys(list[0].(map[string]any))
	require.ElementsMatch(t, []string{"id", "name", "owner_id", "anonymous", "created_at", "expires_at", "entry_count"}, keys)
}

func TestDeleteCapsuleMovesBoxAndRevokes(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "doomed"})
	require.NoError(t, err)
	b, err := reg.Registry.Box(capsule.ID)
	require.NoError(t, err)
	_, err = b.WriteEntry(box.WriteRequest{URI: "notes://keep", Content: "kept"})
	require.NoError(t, err)
	share, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "agent", Role: "writer"})
	require.NoError(t, err)
	enrollment, err := reg.Client.CreateEnrollment(ctx, capsule.ID, client.CreateEnrollmentRequest{Role: "reader"})
	require.NoError(t, err)

	require.NoError(t, reg.Client.DeleteCapsule(ctx, capsule.ID))

	boxes := filepath.Join(reg.DataDir, store.BoxesDir)
	require.NoDirExists(t, filepath.Join(boxes, capsule.ID))
	moved, err := filepath.Glob(filepath.Join(boxes, registry.DeletedBoxesDir, capsule.ID+"-*"))
	require.NoError(t, err)
	require.Len(t, moved, 1)
	entries, err := os.ReadDir(filepath.Join(moved[0], ".capsol", "entries"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "the entry moved with the box")

	connections, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{CapsuleID: capsule.ID})
	require.NoError(t, err)
	require.Len(t, connections, 1)
	require.Equal(t, share.ConnectionID, connections[0].ConnectionID)
	require.Equal(t, "revoked", connections[0].Status)

	_, err = reg.Client.Enroll(ctx, enrollment.Token, "late agent")
	requireAPIError(t, err, http.StatusUnauthorized, "invalid_token")
}

func TestCapsuleOwnership(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	operator := ids.New(ids.Operator)
	require.NoError(t, reg.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		doc.Principals = append(doc.Principals, store.Principal{ID: operator, Kind: store.PrincipalOperator, Name: "Ada"})
		return nil
	}))

	_, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "x", OwnerID: ids.New(ids.Operator)})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	_, err = reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "x", OwnerID: "alice"})
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	owned, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "owned", OwnerID: operator})
	require.NoError(t, err)
	require.Equal(t, operator, *owned.OwnerID)
	unowned, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "pre-0.19"})
	require.NoError(t, err)

	byOwner, err := reg.Client.ListCapsules(ctx, operator, "")
	require.NoError(t, err)
	require.Len(t, byOwner, 1)
	require.Equal(t, owned.ID, byOwner[0].ID)

	// The admin key is no operator, so claiming needs owner_id.
	_, err = reg.Client.UpdateCapsule(ctx, unowned.ID, client.UpdateCapsuleRequest{ClaimOwnership: true})
	apiErr := requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	require.Contains(t, apiErr.Message, "owner_id")
	claimed, err := reg.Client.UpdateCapsule(ctx, unowned.ID, client.UpdateCapsuleRequest{ClaimOwnership: true, OwnerID: &operator})
	require.NoError(t, err)
	require.Equal(t, operator, *claimed.OwnerID)

	cleared, err := reg.Client.UpdateCapsule(ctx, unowned.ID, client.UpdateCapsuleRequest{ClearOwner: true})
	require.NoError(t, err)
	require.Nil(t, cleared.OwnerID)

	empty := send(t, http.MethodPatch, reg.URL+"/v1/capsules/"+owned.ID, testAdminKey, `{"owner_id":""}`)
	requireError(t, empty, http.StatusBadRequest, "invalid_request")
	typed := send(t, http.MethodPatch, reg.URL+"/v1/capsules/"+owned.ID, testAdminKey, `{"owner_id":7}`)
	requireError(t, typed, http.StatusBadRequest, "invalid_request")
	require.Contains(t, typed.JSON["error"], "owner_id")
	unchanged, err := reg.Client.GetCapsule(ctx, owned.ID)
	require.NoError(t, err)
	require.Equal(t, operator, *unchanged.OwnerID)
}

func TestDisabledOperatorCannotOwn(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	operator, err := reg.Client.CreateOperator(ctx, "ada@example.com", "viewer")
	require.NoError(t, err)
	_, err = reg.Client.SetOperatorStatus(ctx, operator.ID, client.OperatorDisabled)
	require.NoError(t, err)
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)

	_, err = reg.Client.UpdateCapsule(ctx, capsule.ID, client.UpdateCapsuleRequest{OwnerID: &operator.ID})
	apiErr := requireAPIError(t, err, http.StatusConflict, "conflict")
	require.Contains(t, apiErr.Message, operator.ID)
	require.Contains(t, apiErr.Message, "ada@example.com")
	require.Contains(t, apiErr.Message, "capsol operators enable "+operator.ID)
	require.Contains(t, apiErr.Message, "another owner")

	_, err = reg.Client.UpdateCapsule(ctx, capsule.ID, client.UpdateCapsuleRequest{ClaimOwnership: true, OwnerID: &operator.ID})
	requireAPIError(t, err, http.StatusConflict, "conflict")
	_, err = reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "owned", OwnerID: operator.ID})
	requireAPIError(t, err, http.StatusConflict, "conflict")
	unchanged, err := reg.Client.GetCapsule(ctx, capsule.ID)
	require.NoError(t, err)
	require.Nil(t, unchanged.OwnerID)

	// Once enabled again, the operator can own the capsule.
	_, err = reg.Client.SetOperatorStatus(ctx, operator.ID, client.OperatorActive)
	require.NoError(t, err)
	owned, err := reg.Client.UpdateCapsule(ctx, capsule.ID, client.UpdateCapsuleRequest{OwnerID: &operator.ID})
	require.NoError(t, err)
	require.Equal(t, operator.ID, *owned.OwnerID)
}

func TestCapsuleNameValidation(t *testing.T) {
	reg := bootDaemon(t)
	for _, name := range []string{"", "   ", "bell\a", strings.Repeat("n", registry.MaxNameBytes+1)} {
		_, err := reg.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: name})
		requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
	}
}

func TestAdminMutationsAreAudited(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "audited"})
	require.NoError(t, err)
	share, err := reg.Client.CreateShare(ctx, capsule.ID, client.CreateShareRequest{Label: "a", Role: "reader"})
	require.NoError(t, err)
	_, err = reg.Client.SetConnectionStatus(ctx, share.ConnectionID, "revoked")
	require.NoError(t, err)
	require.NoError(t, reg.Client.DeleteCapsule(ctx, capsule.ID))
	_, err = reg.Client.ListCapsules(ctx, "", "")
	require.NoError(t, err)

	entries, err := auditlog.Read(registry.RegistryAuditDir(reg.Store), auditlog.Filter{Actor: registry.ActorAdminKey})
	require.NoError(t, err)
	var actions []string
	for _, entry := range entries {
		require.NotContains(t, string(entry), share.Credential)
		actions = append(actions, decodeObject(t, entry)["action"].(string))
	}
	require.Equal(t, []string{"capsule.create", "share.create", "connection.revoke", "capsule.delete"}, actions,
		"every mutation and no read is audited")
}
