package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// credentialCount is the number of stored credentials, to show that a
// refused request issued nothing.
func credentialCount(e *env) int {
	return len(e.d.Store.Credentials.Get().Credentials)
}

func TestTokenExchangeRejections(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("pkce")
	otherCapsule := e.capsule("other")

	cases := []struct {
		name     string
		override url.Values
		status   int
		code     string
	}{
		{"missing verifier", url.Values{"code_verifier": {""}}, http.StatusBadRequest, "invalid_grant"},
		{"wrong verifier", url.Values{"code_verifier": {strings.Repeat("w", 50)}}, http.StatusBadRequest, "invalid_grant"},
		{"other redirect_uri", url.Values{"redirect_uri": {"http://127.0.0.1:9/other"}}, http.StatusBadRequest, "invalid_grant"},
		{"resource of another capsule", url.Values{"resource": {e.mcpURL(otherCapsule)}}, http.StatusBadRequest, "invalid_target"},
		{"unknown client", url.Values{"client_id": {"prn_01hq3zc0000000000000000009"}}, http.StatusUnauthorized, "invalid_client"},
		{"missing grant_type", url.Values{"grant_type": {""}}, http.StatusBadRequest, "invalid_request"},
		{"password grant", url.Values{"grant_type": {"password"}}, http.StatusBadRequest, "unsupported_grant_type"},
		{"unknown code", url.Values{"code": {"capsol_code_nonsense"}}, http.StatusBadRequest, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := e.manualFlow(capsuleID, "capsule:read")
			before := credentialCount(e)
			status, out := e.form("/oauth/token", f.exchangeForm(tc.override))
			assert.Equal(t, tc.status, status, "%v", out)
			assert.Equal(t, tc.code, out["error"])
			assert.NotEmpty(t, out["error_description"])
			assert.Equal(t, before, credentialCount(e), "nothing issued")
		})
	}
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("replay")
	f := e.manualFlow(capsuleID, "capsule:read")
	tokens := f.exchange(t, nil)

	status, out := e.form("/oauth/token", f.exchangeForm(nil))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", out["error"])
	assert.Equal(t, "token_revoked", mcpCode(t, e, capsuleID, tokens["access_token"].(string)),
		"the tokens of a replayed code are revoked")
}

func TestExpiredCodeRejected(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("slow")
	f := e.manualFlow(capsuleID, "capsule:read")
	e.clock.advance(2 * time.Minute)

	before := credentialCount(e)
	status, out := e.form("/oauth/token", f.exchangeForm(nil))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", out["error"])
	assert.Equal(t, before, credentialCount(e))
}

func TestAuthorizeRejections(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("authz")
	otherCapsule := e.capsule("other")
	f := e.newFlow(capsuleID, "capsule:read")
	base, err := url.Parse(f.authorizeURL)
	require.NoError(t, err)

	redirected := []struct {
		name   string
		change func(q url.Values)
		code   string
	}{
		{"plain method", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no challenge", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request"},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"no resource", func(q url.Values) { q.Del("resource") }, "invalid_target"},
		{"foreign resource", func(q url.Values) { q.Set("resource", "https://elsewhere.example/mcp/"+capsuleID) }, "invalid_target"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "admin") }, "invalid_scope"},
	}
	for _, tc := range redirected {
		t.Run(tc.name, func(t *testing.T) {
			q := base.Query()
			tc.change(q)
			resp, err := e.client.Get(e.d.URL + "/oauth/authorize?" + q.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusFound, resp.StatusCode)
			location, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(location.String(), redirectURI+"?"), location.String())
			assert.Equal(t, tc.code, location.Query().Get("error"))
			assert.Equal(t, f.state, location.Query().Get("state"))
			assert.Empty(t, location.Query().Get("code"))
		})
	}

	// Errors about the client or its redirect URI are shown, never
	// redirected, because the target cannot be trusted.
	shown := []struct {
		name   string
		change func(q url.Values)
	}{
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "https://attacker.example/cb") }},
		{"unknown client", func(q url.Values) { q.Set("client_id", "prn_01hq3zc0000000000000000009") }},
		{"malformed client", func(q url.Values) { q.Set("client_id", "../../etc") }},
	}
	for _, tc := range shown {
		t.Run(tc.name, func(t *testing.T) {
			q := base.Query()
			tc.change(q)
			resp, err := e.client.Get(e.d.URL + "/oauth/authorize?" + q.Encode())
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Location"))
		})
	}

	// A loopback redirect URI may use any port (RFC 8252 7.3).
	q := base.Query()
	q.Set("redirect_uri", "http://127.0.0.1:40001/callback")
	resp, err := e.client.Get(e.d.URL + "/oauth/authorize?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "loopback redirect on another port is accepted")

	status, out := e.admin(http.MethodGet, "/v1/grants?capsule_id="+otherCapsule, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, out["grants"], "no grant was recorded for a refused request")
}

func TestTokenForOneCapsuleOnly(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("bound")
	otherCapsule := e.capsule("other")
	tokens := e.manualFlow(capsuleID, "capsule:read").exchange(t, nil)
	assert.Equal(t, "invalid_token", mcpCode(t, e, otherCapsule, tokens["access_token"].(string)))
}

func TestRegistrationRejections(t *testing.T) {
	e := startDaemon(t)
	cases := []struct {
		name     string
		metadata map[string]any
		code     string
	}{
		{"no redirect", map[string]any{"client_name": "x"}, "invalid_redirect_uri"},
		{"http non-loopback", map[string]any{"redirect_uris": []string{"http://example.com/cb"}}, "invalid_redirect_uri"},
		{"fragment", map[string]any{"redirect_uris": []string{"https://example.com/cb#x"}}, "invalid_redirect_uri"},
		{"javascript", map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "invalid_redirect_uri"},
		{"too many", map[string]any{"redirect_uris": strings.Split(strings.Repeat("https://a.example/cb,", 11), ",")[:11]}, "invalid_redirect_uri"},
		{"unknown auth method", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"},
		{"implicit grant", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "grant_types": []string{"implicit"}}, "invalid_client_metadata"},
		{"oversized", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "client_name": "x", "software_id": strings.Repeat("a", 70<<10)}, "invalid_client_metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.d.Store.Principals.Get().Principals)
			status, out := e.register(tc.metadata)
			assert.Equal(t, http.StatusBadRequest, status, "%v", out)
			assert.Equal(t, tc.code, out["error"])
			assert.NotEmpty(t, out["error_description"])
			assert.Equal(t, before, len(e.d.Store.Principals.Get().Principals), "no client stored")
		})
	}

	ok := []string{"http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost:3000/cb", "cursor://anysphere.cursor-retrieval/oauth/callback", "vscode://vscode.github-authentication/did-authenticate", "https://app.example/cb"}
	status, out := e.register(map[string]any{"redirect_uris": ok, "client_name": "editors"})
	require.Equal(t, http.StatusCreated, status, "%v", out)
	assert.Equal(t, "none", out["token_endpoint_auth_method"])
	assert.NotContains(t, out, "client_secret")
}

func TestConfidentialClientMustAuthenticate(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("confidential")
	status, client := e.register(map[string]any{"redirect_uris": []string{redirectURI}, "client_name": "server app", "token_endpoint_auth_method": "client_secret_basic"})
	require.Equal(t, http.StatusCreated, status)
	clientID, secret := client["client_id"].(string), client["client_secret"].(string)
	require.True(t, strings.HasPrefix(secret, "capsol_cs_"))

	verifier := strings.Repeat("c", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"s1"}, "resource": {e.mcpURL(capsuleID)}}
	authorizeURL := e.d.URL + "/oauth/authorize?" + q.Encode()
	resp, err := e.client.Get(authorizeURL)
	require.NoError(t, err)
	resp.Body.Close()
	e.approvePending(capsuleID)
	resp, err = e.client.Get(authorizeURL)
	require.NoError(t, err)
	resp.Body.Close()
	location, _ := url.Parse(resp.Header.Get("Location"))
	code := location.Query().Get("code")
	require.NotEmpty(t, code)

	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}, "client_id": {clientID}}
	status, out := e.form("/oauth/token", form)
	assert.Equal(t, http.StatusUnauthorized, status, "no secret")
	assert.Equal(t, "invalid_client", out["error"])

	req, _ := http.NewRequest(http.MethodPost, e.d.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err = e.client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "Basic authentication with the issued secret")
}

func TestFailedExchangeThenRetrySaysNoTokens(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("retry")
	f := e.manualFlow(capsuleID, "capsule:read")

	status, out := e.form("/oauth/token", f.exchangeForm(url.Values{"code_verifier": {strings.Repeat("w", 50)}}))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", out["error"])

	status, out = e.form("/oauth/token", f.exchangeForm(nil))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_grant", out["error"])
	assert.Contains(t, out["error_description"], "exchange failed")
	assert.NotContains(t, out["error_description"], "revoked", "no tokens were issued, so none were revoked")
}

func TestReusedStateWithOtherChallengeIsNewRequest(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("state")
	f := e.manualFlow(capsuleID, "capsule:read")

	// The same client and state with another PKCE challenge is another
	// request: it waits for its own approval instead of getting a code.
	u, err := url.Parse(f.authorizeURL)
	require.NoError(t, err)
	q := u.Query()
	sum := sha256.Sum256([]byte(strings.Repeat("z", 50)))
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	resp, err := e.client.Get(e.d.URL + "/oauth/authorize?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "waiting page, not a redirect with a code")
	status, out := e.admin(http.MethodGet, "/v1/grants?status=pending&capsule_id="+capsuleID, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, out["grants"], 1)
}
