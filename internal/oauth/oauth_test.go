package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetadataDocuments(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("meta")

	resp, err := e.client.Get(e.d.URL + "/.well-known/oauth-protected-resource/mcp/" + capsuleID)
	require.NoError(t, err)
	var prm map[string]any
	decode(t, resp, &prm)
	assert.Equal(t, e.mcpURL(capsuleID), prm["resource"])
	assert.Equal(t, []any{e.d.BaseURL}, prm["authorization_servers"])
	assert.Equal(t, []any{"capsule:read", "capsule:write"}, prm["scopes_supported"])
	assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))

	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		resp, err := e.client.Get(e.d.URL + path)
		require.NoError(t, err)
		var asm map[string]any
		decode(t, resp, &asm)
		assert.Equal(t, prm["authorization_servers"].([]any)[0], asm["issuer"], path)
		for _, key := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"} {
			assert.True(t, strings.HasPrefix(asm[key].(string), e.d.BaseURL+"/oauth/"), "%s %s", path, key)
		}
		assert.Equal(t, []any{"S256"}, asm["code_challenge_methods_supported"])
		assert.Contains(t, asm["token_endpoint_auth_methods_supported"], "none")
		assert.Equal(t, true, asm["client_id_metadata_document_supported"])
	}

	resp, err = e.client.Get(e.d.URL + "/.well-known/oauth-protected-resource/mcp/cap_..")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	req, _ := http.NewRequest(http.MethodOptions, e.d.URL+"/oauth/token", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err = e.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
}

func TestGoSDKAuthorizationCodeFlow(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("oauth")
	session, handler := e.oauthSession(capsuleID)
	ctx := context.Background()

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "write_entry", Arguments: map[string]any{"uri": "notes://oauth/hello", "content": "via OAuth"}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)
	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "read_entry", Arguments: map[string]any{"uri": "notes://oauth/hello"}})
	require.NoError(t, err)
	require.False(t, res.IsError)

	status, out := e.admin(http.MethodGet, "/v1/connections?capsule_id="+capsuleID, nil)
	require.Equal(t, http.StatusOK, status)
	conns := out["connections"].([]any)
	require.Len(t, conns, 1)
	conn := conns[0].(map[string]any)
	assert.Equal(t, "oauth", conn["kind"])
	assert.Equal(t, "go-sdk-e2e", conn["label"])
	assert.Equal(t, "writer", conn["role"])
	assert.Equal(t, "active", conn["status"])

	source, err := handler.TokenSource(ctx)
	require.NoError(t, err)
	first, err := source.Token()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(first.AccessToken, "capsol_at_"))
	refresh := first.RefreshToken
	assert.True(t, strings.HasPrefix(refresh, "capsol_rt_"))
	assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), first.Expiry, time.Minute, "access tokens live 30 days")

	clientID := registeredClientID(t, e)

	// Refresh rotates both tokens: the old access token is refused.
	status, rotated := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}})
	require.Equal(t, http.StatusOK, status, "%v", rotated)
	assert.EqualValues(t, 2592000, rotated["expires_in"])
	newAccess, newRefresh := rotated["access_token"].(string), rotated["refresh_token"].(string)
	assert.NotEqual(t, first.AccessToken, newAccess)
	assert.NotEqual(t, refresh, newRefresh)
	code := mcpCode(t, e, capsuleID, first.AccessToken)
	assert.Equal(t, "token_revoked", code, "the rotated access token is refused")
	status, _ = e.mcpStatus(capsuleID, newAccess)
	assert.Equal(t, http.StatusOK, status)

	// Reusing the rotated refresh token revokes the whole family.
	status, reuse := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {clientID}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", reuse["error"])
	assert.Equal(t, "token_revoked", mcpCode(t, e, capsuleID, newAccess))
	status, after := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {newRefresh}, "client_id": {clientID}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", after["error"])
}

func TestRevokeEndpointKillsFamily(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("revoke")
	flow := e.manualFlow(capsuleID, "capsule:read capsule:write")
	tokens := flow.exchange(t, nil)

	status, _ := e.mcpStatus(capsuleID, tokens["access_token"].(string))
	require.Equal(t, http.StatusOK, status)

	resp, err := e.client.PostForm(e.d.URL+"/oauth/revoke", url.Values{"token": {tokens["access_token"].(string)}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	assert.Equal(t, "token_revoked", mcpCode(t, e, capsuleID, tokens["access_token"].(string)))
	status, out := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)}, "client_id": {flow.clientID}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", out["error"])

	resp, err = e.client.PostForm(e.d.URL+"/oauth/revoke", url.Values{"token": {"capsol_at_unknown"}})
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "unknown tokens answer 200 (RFC 7009)")
}

func TestTokenExpiresAfterThirtyDays(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("expiry")
	tokens := e.manualFlow(capsuleID, "capsule:read").exchange(t, nil)
	access := tokens["access_token"].(string)

	e.clock.advance(29 * 24 * time.Hour)
	status, _ := e.mcpStatus(capsuleID, access)
	assert.Equal(t, http.StatusOK, status)
	e.clock.advance(2 * 24 * time.Hour)
	assert.Equal(t, "token_expired", mcpCode(t, e, capsuleID, access))
}

func TestGrantRevokedByPolicy(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("policy")
	flow := e.manualFlow(capsuleID, "capsule:read")
	tokens := flow.exchange(t, nil)
	access := tokens["access_token"].(string)

	status, out := e.admin(http.MethodPut, "/v1/policy", map[string]any{"max_grant_age_days": 1})
	require.Equal(t, http.StatusOK, status, "%v", out)
	assert.EqualValues(t, 1, out["max_grant_age_days"])
	assert.EqualValues(t, 168, out["anonymous_capsule_ttl_hours"], "fields left out keep their values")

	e.clock.advance(36 * time.Hour)
	revoked, err := e.d.Registry.ApplyGrantPolicy(e.clock.now())
	require.NoError(t, err)
	assert.Equal(t, 1, revoked)

	assert.Equal(t, "grant_revoked", mcpCode(t, e, capsuleID, access))
	status, out = e.admin(http.MethodGet, "/v1/grants?status=revoked", nil)
	require.Equal(t, http.StatusOK, status)
	grant := out["grants"].([]any)[0].(map[string]any)
	assert.Equal(t, "policy", grant["revoked_by"])
}

func TestIdleGrantRevokedByPolicy(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("idle")
	tokens := e.manualFlow(capsuleID, "capsule:read").exchange(t, nil)
	status, _ := e.admin(http.MethodPut, "/v1/policy", map[string]any{"max_idle_days": 3})
	require.Equal(t, http.StatusOK, status)

	e.clock.advance(2 * 24 * time.Hour)
	n, err := e.d.Registry.ApplyGrantPolicy(e.clock.now())
	require.NoError(t, err)
	assert.Zero(t, n, "two idle days are within the limit")
	e.clock.advance(2 * 24 * time.Hour)
	n, err = e.d.Registry.ApplyGrantPolicy(e.clock.now())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, "grant_revoked", mcpCode(t, e, capsuleID, tokens["access_token"].(string)))
}

func TestRevokeGrantThroughAdminAPI(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("grant")
	flow := e.manualFlow(capsuleID, "capsule:read")
	tokens := flow.exchange(t, nil)

	status, out := e.admin(http.MethodPost, "/v1/grants/"+flow.grantID+"/revoke", nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "revoked", out["status"])
	assert.Equal(t, "admin-key", out["revoked_by"])
	assert.Equal(t, "grant_revoked", mcpCode(t, e, capsuleID, tokens["access_token"].(string)))

	status, out = e.admin(http.MethodPost, "/v1/grants/"+flow.grantID+"/approve", nil)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "conflict", out["error_code"])
	status, _ = e.admin(http.MethodPost, "/v1/grants/grt_../approve", nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func TestPendingGrantIsFoundAgainAndDenied(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("pending")
	flow := e.newFlow(capsuleID, "capsule:read")

	for i := 0; i < 3; i++ {
		resp, err := e.client.Get(flow.authorizeURL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	status, out := e.admin(http.MethodGet, "/v1/grants?status=pending", nil)
	require.Equal(t, http.StatusOK, status)
	grants := out["grants"].([]any)
	require.Len(t, grants, 1, "a repeated request finds the same grant")
	grant := grants[0].(map[string]any)
	assert.Equal(t, "reader", grant["role"])
	assert.Equal(t, "manual-client", grant["client_name"])

	status, _ = e.admin(http.MethodPost, "/v1/grants/"+grant["id"].(string)+"/revoke", nil)
	require.Equal(t, http.StatusOK, status)
	resp, err := e.client.Get(flow.authorizeURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	location, _ := url.Parse(resp.Header.Get("Location"))
	assert.Equal(t, "access_denied", location.Query().Get("error"))
	assert.Equal(t, flow.state, location.Query().Get("state"))
}

func TestPendingGrantLimit(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("limit")
	status, _ := e.admin(http.MethodPut, "/v1/policy", map[string]any{"max_pending_grants_per_capsule": 2})
	require.Equal(t, http.StatusOK, status)

	for i := 0; i < 2; i++ {
		resp, err := e.client.Get(e.newFlow(capsuleID, "capsule:read").authorizeURL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	resp, err := e.client.Get(e.newFlow(capsuleID, "capsule:read").authorizeURL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
}

func mcpCode(t *testing.T, e *env, capsuleID, token string) string {
	t.Helper()
	status, code := e.mcpStatus(capsuleID, token)
	require.Equal(t, http.StatusUnauthorized, status)
	return code
}

// registeredClientID returns the client id of the only registered client.
func registeredClientID(t *testing.T, e *env) string {
	t.Helper()
	for _, p := range e.d.Store.Principals.Get().Principals {
		if p.Kind == "oauth_client" && p.ClientID != nil {
			return *p.ClientID
		}
	}
	t.Fatal("no registered client")
	return ""
}

// flow is one authorization code flow driven by hand.
type flow struct {
	e            *env
	clientID     string
	verifier     string
	state        string
	capsuleID    string
	authorizeURL string
	grantID      string
	code         string
}

func (e *env) register(metadata map[string]any) (int, map[string]any) {
	e.t.Helper()
	status, out := e.postJSON("/oauth/register", metadata)
	return status, out
}

func (e *env) newFlow(capsuleID, scope string) *flow {
	e.t.Helper()
	status, client := e.register(map[string]any{"redirect_uris": []string{redirectURI}, "client_name": "manual-client", "token_endpoint_auth_method": "none"})
	require.Equal(e.t, http.StatusCreated, status, "%v", client)
	f := &flow{e: e, clientID: client["client_id"].(string), verifier: strings.Repeat("v", 20) + randomSuffix(), state: "state-" + randomSuffix(), capsuleID: capsuleID}
	sum := sha256.Sum256([]byte(f.verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {f.state}, "resource": {e.mcpURL(capsuleID)}, "scope": {scope},
	}
	f.authorizeURL = e.d.URL + "/oauth/authorize?" + q.Encode()
	return f
}

// manualFlow runs a flow up to the code: waiting page, approval, redirect.
func (e *env) manualFlow(capsuleID, scope string) *flow {
	e.t.Helper()
	f := e.newFlow(capsuleID, scope)
	resp, err := e.client.Get(f.authorizeURL)
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusOK, resp.StatusCode)
	f.grantID = e.approvePending(capsuleID)
	resp, err = e.client.Get(f.authorizeURL)
	require.NoError(e.t, err)
	resp.Body.Close()
	require.Equal(e.t, http.StatusFound, resp.StatusCode)
	location, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(e.t, err)
	require.Equal(e.t, f.state, location.Query().Get("state"))
	require.Equal(e.t, e.d.BaseURL, location.Query().Get("iss"))
	f.code = location.Query().Get("code")
	require.NotEmpty(e.t, f.code)
	return f
}

// exchange trades the code for tokens; override changes form fields.
func (f *flow) exchange(t *testing.T, override url.Values) map[string]any {
	t.Helper()
	status, out := f.e.form("/oauth/token", f.exchangeForm(override))
	require.Equal(t, http.StatusOK, status, "%v", out)
	return out
}

func (f *flow) exchangeForm(override url.Values) url.Values {
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {f.code}, "redirect_uri": {redirectURI},
		"client_id": {f.clientID}, "code_verifier": {f.verifier}, "resource": {f.e.mcpURL(f.capsuleID)},
	}
	for k, v := range override {
		if len(v) == 0 || v[0] == "" {
			form.Del(k)
			continue
		}
		form[k] = v
	}
	return form
}

func TestRevokedFamilyRevokesGrant(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("family")
	f := e.manualFlow(capsuleID, "capsule:read")
	tokens := f.exchange(t, nil)

	status, out := e.admin(http.MethodGet, "/v1/connections?capsule_id="+capsuleID, nil)
	require.Equal(t, http.StatusOK, status)
	conn := out["connections"].([]any)[0].(map[string]any)
	expires, err := time.Parse(time.RFC3339Nano, conn["expires_at"].(string))
	require.NoError(t, err, "an OAuth connection carries its refresh token's expiry")
	assert.WithinDuration(t, e.clock.now().Add(90*24*time.Hour), expires, time.Minute)

	resp, err := e.client.PostForm(e.d.URL+"/oauth/revoke", url.Values{"token": {tokens["refresh_token"].(string)}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	status, out = e.admin(http.MethodGet, "/v1/grants?capsule_id="+capsuleID, nil)
	require.Equal(t, http.StatusOK, status)
	grant := out["grants"].([]any)[0].(map[string]any)
	assert.Equal(t, "revoked", grant["status"], "Approvals and Connections agree")
	assert.Equal(t, "oauth-client", grant["revoked_by"])
	assert.Equal(t, "token_revoked", mcpCode(t, e, capsuleID, tokens["access_token"].(string)))
}
