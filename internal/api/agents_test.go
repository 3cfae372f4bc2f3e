package api_test

import (
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/api"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

func TestAnonymousCapsuleCreated(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()

	resp := send(t, http.MethodPost, reg.URL+"/anonymous/capsules", "", `{"name":"scratchpad"}`)
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	require.ElementsMatch(t, []string{"capsule_id", "mcp_url", "credential", "expires_at"}, mapKeys(resp.JSON))
	capsuleID := resp.JSON["capsule_id"].(string)
	require.True(t, ids.Valid(ids.Capsule, capsuleID))
	require.True(t, secret.CheckToken(resp.JSON["credential"].(string), secret.PrefixShare))
	expires, err := time.Parse(time.RFC3339Nano, resp.JSON["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(168*time.Hour), expires, time.Minute)

	capsule, err := reg.Client.GetCapsule(ctx, capsuleID)
	require.NoError(t, err)
	require.True(t, capsule.Anonymous)
	require.Equal(t, "scratchpad", capsule.Name)
	require.Nil(t, capsule.OwnerID)

	// Neither a body nor a name is needed.
	noBody := send(t, http.MethodPost, reg.URL+"/anonymous/capsules", "", "")
	require.Equal(t, http.StatusCreated, noBody.Status, "body: %s", noBody.Body)
	unnamed, err := reg.Client.CreateAnonymousCapsule(ctx, "")
	require.NoError(t, err)
	named, err := reg.Client.GetCapsule(ctx, unnamed.CapsuleID)
	require.NoError(t, err)
	require.Equal(t, "anonymous capsule", named.Name)
}

func TestAnonymousCapsulePolicy(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	setPolicy(t, reg.Store, func(p *store.Policy) { p.AnonymousCapsuleTTLHours = 1 })
	created, err := reg.Client.CreateAnonymousCapsule(ctx, "")
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), created.ExpiresAt, time.Minute)

	setPolicy(t, reg.Store, func(p *store.Policy) { p.AllowAnonymousCapsules = false })
	_, err = reg.Client.CreateAnonymousCapsule(ctx, "")
	apiErr := requireAPIError(t, err, http.StatusForbidden, "forbidden")
	require.Contains(t, apiErr.Message, "allow_anonymous_capsules")
}

func TestAnonymousCapsuleRateLimited(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	for i := range api.AnonymousCapsuleBurst {
		_, err := reg.Client.CreateAnonymousCapsule(ctx, "burst "+strconv.Itoa(i))
		require.NoError(t, err)
	}

	resp := send(t, http.MethodPost, reg.URL+"/anonymous/capsules", "", `{}`)
	requireError(t, resp, http.StatusTooManyRequests, "rate_limited")
	retryAfter, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retryAfter)
	require.LessOrEqual(t, retryAfter, 60/api.AnonymousCapsulePerMinute)

	_, err = reg.Client.CreateAnonymousCapsule(ctx, "")
	apiErr := requireAPIError(t, err, http.StatusTooManyRequests, "rate_limited")
	require.Positive(t, apiErr.RetryAfter)

	capsules, err := reg.Client.ListCapsules(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, capsules, api.AnonymousCapsuleBurst, "a limited request creates nothing")
}

func TestJanitorExpiresAnonymousCapsule(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	reg := startServer(t, clock)
	ctx := t.Context()
	kept, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "kept"})
	require.NoError(t, err)
	anonymous, err := reg.Client.CreateAnonymousCapsule(ctx, "short-lived")
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(168*time.Hour), anonymous.ExpiresAt)
	boxDir := filepath.Join(reg.DataDir, store.BoxesDir, anonymous.CapsuleID)
	require.DirExists(t, boxDir)

	clock.Advance(168*time.Hour - time.Second)
	removed, err := reg.Registry.ExpireAnonymousCapsules(reg.Registry.Now())
	require.NoError(t, err)
	require.Zero(t, removed)

	clock.Advance(time.Second)
	removed, err = reg.Registry.ExpireAnonymousCapsules(reg.Registry.Now())
	require.NoError(t, err)
	require.Equal(t, 1, removed)

	_, err = reg.Client.GetCapsule(ctx, anonymous.CapsuleID)
	requireAPIError(t, err, http.StatusNotFound, "not_found")
	require.NoDirExists(t, boxDir)
	connections, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{CapsuleID: anonymous.CapsuleID})
	require.NoError(t, err)
	require.Empty(t, connections)
	require.Empty(t, reg.Store.Credentials.Get().Credentials)
	capsules, err := reg.Client.ListCapsules(ctx, "", "")
	require.NoError(t, err)
	require.Len(t, capsules, 1)
	require.Equal(t, kept.ID, capsules[0].ID)
}
