package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/pkg/client"
)

// dashboardSession is the cookie and CSRF token of a dashboard session.
type dashboardSession struct {
	cookie string
	csrf   string
}

// signInAs creates an operator with role and a dashboard session of it,
// as a completed OIDC sign-in does.
func signInAs(t *testing.T, tr *testRegistry, email, role string) (registry.Operator, dashboardSession) {
	t.Helper()
	op, err := tr.Registry.CreateOperator(email, role)
	require.NoError(t, err)
	session, err := tr.Registry.CreateSession(op.ID)
	require.NoError(t, err)
	return op, dashboardSession{cookie: session.CookieValue, csrf: session.CSRFToken}
}

// breakGlassSession is the session of the admin key: its cookie is the
// hex SHA-256 of the key.
func breakGlassSession() dashboardSession {
	sum := sha256.Sum256([]byte(testAdminKey))
	cookie := hex.EncodeToString(sum[:])
	return dashboardSession{cookie: cookie, csrf: registry.CSRFToken(cookie)}
}

// sendWithSession makes a raw request with the session cookie, and with
// the CSRF header unless csrf is empty.
func sendWithSession(t *testing.T, method, url string, session dashboardSession, csrf, body string) response {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "capsol_session", Value: session.cookie})
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	_ = json.Unmarshal(data, &out.JSON)
	return out
}

// TestOperatorLifecycleRunbook runs the operations page's operator
// lifecycle calls exactly as written there.
func TestOperatorLifecycleRunbook(t *testing.T) {
	tr := bootDaemon(t)
	admin, adminSession := signInAs(t, tr, "ada@example.com", "admin")

	// Add: POST /v1/operators/invites.
	invite := send(t, http.MethodPost, tr.URL+"/v1/operators/invites", testAdminKey, `{"email": "bea@example.com", "role": "approver"}`)
	require.Equal(t, http.StatusCreated, invite.Status, "body: %s", invite.Body)
	require.ElementsMatch(t, []string{"invite_id", "url", "expires_at", "emailed"}, mapKeys(invite.JSON))
	require.Equal(t, false, invite.JSON["emailed"])
	require.Regexp(t, `^http://localhost:\d+/invite/capsol_inv_[0-9A-Za-z]{49}$`, invite.JSON["url"])
	expires, err := time.Parse(time.RFC3339Nano, invite.JSON["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(7*24*time.Hour), expires, time.Minute)

	// Direct creation is admin-only.
	viewer, viewerSession := signInAs(t, tr, "cy@example.com", "viewer")
	resp := sendWithSession(t, http.MethodPost, tr.URL+"/v1/operators", viewerSession, viewerSession.csrf, `{"email": "dan@example.com", "role": "viewer"}`)
	requireError(t, resp, http.StatusForbidden, "forbidden")
	resp = send(t, http.MethodPost, tr.URL+"/v1/operators", testAdminKey, `{"email": "dan@example.com", "role": "viewer"}`)
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "viewer", resp.JSON["role"])
	require.Equal(t, "active", resp.JSON["status"])

	// Change role: PATCH /v1/operators/:id {"role": "approver"}. The open
	// session keeps its role until the next sign-in.
	resp = send(t, http.MethodPatch, tr.URL+"/v1/operators/"+viewer.ID, testAdminKey, `{"role": "approver"}`)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "approver", resp.JSON["role"])
	resp = sendWithSession(t, http.MethodPost, tr.URL+"/v1/grants/grt_01hq3zg0000000000000000001/approve", viewerSession, viewerSession.csrf, "")
	requireError(t, resp, http.StatusForbidden, "forbidden")

	// Offboard: PATCH /v1/operators/:id {"status": "disabled"} stops the
	// existing session at once.
	resp = sendWithSession(t, http.MethodGet, tr.URL+"/v1/capsules", viewerSession, "", "")
	require.Equal(t, http.StatusOK, resp.Status)
	resp = send(t, http.MethodPatch, tr.URL+"/v1/operators/"+viewer.ID, testAdminKey, `{"status": "disabled"}`)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "disabled", resp.JSON["status"])
	resp = sendWithSession(t, http.MethodGet, tr.URL+"/v1/capsules", viewerSession, "", "")
	requireError(t, resp, http.StatusUnauthorized, "invalid_token")

	// Pre-0.19 capsules are unowned; an admin claims them with
	// PATCH /v1/capsules/:id {"claim_ownership": true}.
	capsule, err := tr.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "legacy"})
	require.NoError(t, err)
	require.Nil(t, capsule.OwnerID)
	resp = sendWithSession(t, http.MethodPatch, tr.URL+"/v1/capsules/"+capsule.ID, adminSession, adminSession.csrf, `{"claim_ownership": true}`)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.Equal(t, admin.ID, resp.JSON["owner_id"])

	// The admin key is no operator, so it must name owner_id.
	resp = send(t, http.MethodPatch, tr.URL+"/v1/capsules/"+capsule.ID, testAdminKey, `{"claim_ownership": true}`)
	requireError(t, resp, http.StatusBadRequest, "invalid_request")
	resp = send(t, http.MethodPatch, tr.URL+"/v1/capsules/"+capsule.ID, testAdminKey, `{"claim_ownership": true, "owner_id": "`+admin.ID+`"}`)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)

	// A disabled operator keeps the capsules they own.
	_, err = tr.Client.SetOperatorStatus(t.Context(), admin.ID, "disabled")
	require.NoError(t, err)
	got, err := tr.Client.GetCapsule(t.Context(), capsule.ID)
	require.NoError(t, err)
	require.Equal(t, admin.ID, *got.OwnerID)
}

func TestClaimOwnershipNeedsAdmin(t *testing.T) {
	tr := bootDaemon(t)
	_, approverSession := signInAs(t, tr, "bea@example.com", "approver")
	capsule, err := tr.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "legacy"})
	require.NoError(t, err)

	resp := sendWithSession(t, http.MethodPatch, tr.URL+"/v1/capsules/"+capsule.ID, approverSession, approverSession.csrf, `{"claim_ownership": true}`)
	requireError(t, resp, http.StatusForbidden, "forbidden")
	got, err := tr.Client.GetCapsule(t.Context(), capsule.ID)
	require.NoError(t, err)
	require.Nil(t, got.OwnerID)
}

func TestSessionRoleLimits(t *testing.T) {
	tr := bootDaemon(t)
	capsule, err := tr.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)
	share, err := tr.Client.CreateShare(t.Context(), capsule.ID, client.CreateShareRequest{Label: "bot", Role: "reader"})
	require.NoError(t, err)
	_, viewer := signInAs(t, tr, "viewer@example.com", "viewer")
	_, approver := signInAs(t, tr, "approver@example.com", "approver")
	_, admin := signInAs(t, tr, "admin@example.com", "admin")
	pause := `{"status":"paused"}`

	cases := []struct {
		name    string
		session dashboardSession
		method  string
		path    string
		body    string
		status  int
		code    string
	}{
		{"viewer reads", viewer, http.MethodGet, "/v1/connections", "", http.StatusOK, ""},
		{"viewer reads operators", viewer, http.MethodGet, "/v1/operators", "", http.StatusOK, ""},
		{"viewer cannot pause", viewer, http.MethodPatch, "/v1/shares/" + share.ConnectionID, pause, http.StatusForbidden, "forbidden"},
		{"approver pauses", approver, http.MethodPatch, "/v1/shares/" + share.ConnectionID, pause, http.StatusOK, ""},
		{"approver cannot create capsules", approver, http.MethodPost, "/v1/capsules", `{"name":"x"}`, http.StatusForbidden, "forbidden"},
		{"approver cannot invite", approver, http.MethodPost, "/v1/operators/invites", `{"email":"e@example.com","role":"admin"}`, http.StatusForbidden, "forbidden"},
		{"approver cannot change policy", approver, http.MethodPut, "/v1/policy", `{}`, http.StatusForbidden, "forbidden"},
		{"admin creates capsules", admin, http.MethodPost, "/v1/capsules", `{"name":"x"}`, http.StatusCreated, ""},
		{"break-glass creates capsules", breakGlassSession(), http.MethodPost, "/v1/capsules", `{"name":"y"}`, http.StatusCreated, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := sendWithSession(t, tc.method, tr.URL+tc.path, tc.session, tc.session.csrf, tc.body)
			if tc.code != "" {
				requireError(t, resp, tc.status, tc.code)
				return
			}
			require.Equal(t, tc.status, resp.Status, "body: %s", resp.Body)
		})
	}
}

func TestSessionNeedsCSRFHeader(t *testing.T) {
	tr := bootDaemon(t)
	_, admin := signInAs(t, tr, "admin@example.com", "admin")

	resp := sendWithSession(t, http.MethodPost, tr.URL+"/v1/capsules", admin, "", `{"name":"x"}`)
	requireError(t, resp, http.StatusForbidden, "csrf_failed")
	resp = sendWithSession(t, http.MethodPost, tr.URL+"/v1/capsules", admin, breakGlassSession().csrf, `{"name":"x"}`)
	requireError(t, resp, http.StatusForbidden, "csrf_failed")
	resp = sendWithSession(t, http.MethodPost, tr.URL+"/v1/capsules", breakGlassSession(), admin.csrf, `{"name":"x"}`)
	requireError(t, resp, http.StatusForbidden, "csrf_failed")
	require.Empty(t, tr.Registry.ListCapsules("", ""), "a refused request changes nothing")

	resp = sendWithSession(t, http.MethodGet, tr.URL+"/v1/capsules", admin, "", "")
	require.Equal(t, http.StatusOK, resp.Status, "reads need no CSRF token")

	resp = sendWithSession(t, http.MethodGet, tr.URL+"/v1/capsules", dashboardSession{cookie: "forged"}, "", "")
	requireError(t, resp, http.StatusUnauthorized, "invalid_token")
}

func TestSessionActorInAudit(t *testing.T) {
	tr := bootDaemon(t)
	op, admin := signInAs(t, tr, "admin@example.com", "admin")
	resp := sendWithSession(t, http.MethodPost, tr.URL+"/v1/capsules", admin, admin.csrf, `{"name":"audited"}`)
	require.Equal(t, http.StatusCreated, resp.Status, "body: %s", resp.Body)
	_, err := tr.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "by-key"})
	require.NoError(t, err)

	entries, err := tr.Client.RegistryAudit(t.Context(), client.AuditFilter{Actor: op.ID})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	var entry map[string]any
	require.NoError(t, json.Unmarshal(entries[0], &entry))
	require.Equal(t, "capsule.create", entry["action"])
	require.Equal(t, resp.JSON["id"], entry["target"])

	entries, err = tr.Client.RegistryAudit(t.Context(), client.AuditFilter{Actor: "admin-key"})
	require.NoError(t, err)
	require.Len(t, entries, 1)

	all := send(t, http.MethodGet, tr.URL+"/v1/audit?date="+time.Now().UTC().Format("2006-01-02"), testAdminKey, "")
	require.Equal(t, http.StatusOK, all.Status)
	require.Len(t, all.JSON["entries"], 2)
	requireError(t, send(t, http.MethodGet, tr.URL+"/v1/audit?date=yesterday", testAdminKey, ""), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodGet, tr.URL+"/v1/audit?limit=0", testAdminKey, ""), http.StatusBadRequest, "invalid_request")
}

func TestInvitesListAndRevoke(t *testing.T) {
	tr := bootDaemon(t)
	invite, err := tr.Client.InviteOperator(t.Context(), "bea@example.com", "viewer")
	require.NoError(t, err)
	_, err = tr.Client.InviteOperator(t.Context(), "bea@example.com", "boss")
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")

	invites, err := tr.Client.ListInvites(t.Context())
	require.NoError(t, err)
	require.Len(t, invites, 1)
	require.Equal(t, "pending", invites[0].Status)
	require.Equal(t, "admin-key", invites[0].CreatedBy)
	require.NotContains(t, string(mustJSON(t, invites)), "capsol_inv_", "listings never show the token")

	require.NoError(t, tr.Client.RevokeInvite(t.Context(), invite.InviteID))
	invites, err = tr.Client.ListInvites(t.Context())
	require.NoError(t, err)
	require.Equal(t, "revoked", invites[0].Status)

	token := invite.URL[strings.LastIndex(invite.URL, "/")+1:]
	_, err = tr.Registry.PendingInvite(token)
	require.Error(t, err)

	err = tr.Client.RevokeInvite(t.Context(), "inv_nope")
	requireAPIError(t, err, http.StatusNotFound, "not_found")
	err = tr.Client.RevokeInvite(t.Context(), "inv_01hq3zg0000000000000000001")
	requireAPIError(t, err, http.StatusNotFound, "not_found")
}

func TestUpdateOperatorRejectsBadInput(t *testing.T) {
	tr := bootDaemon(t)
	op, session := signInAs(t, tr, "ada@example.com", "admin")

	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/operators/"+op.ID, testAdminKey, `{}`), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/operators/"+op.ID, testAdminKey, `{"role":"root"}`), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/operators/"+op.ID, testAdminKey, `{"status":"gone"}`), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/operators/op_bad", testAdminKey, `{"role":"viewer"}`), http.StatusNotFound, "not_found")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/operators/op_01hq3zg0000000000000000001", testAdminKey, `{"role":"viewer"}`), http.StatusNotFound, "not_found")

	resp := sendWithSession(t, http.MethodPatch, tr.URL+"/v1/operators/"+op.ID, session, session.csrf, `{"status":"disabled"}`)
	requireError(t, resp, http.StatusConflict, "conflict")
	got, err := tr.Registry.GetOperator(op.ID)
	require.NoError(t, err)
	require.Equal(t, "active", got.Status)
}

func TestSettingsNeverEchoSecrets(t *testing.T) {
	tr := bootDaemon(t)
	body := `{"public_url": "https://capsol.example.com", "oidc": {"issuer": "https://idp.example.com", "client_id": "capsol", "client_secret": "oidc-s3cret"},
		"smtp_url": "smtps://mailer:smtp-pa55@mail.example.com:465"}`
	resp := send(t, http.MethodPatch, tr.URL+"/v1/settings", testAdminKey, body)
	require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
	require.NotContains(t, string(resp.Body), "oidc-s3cret")
	require.NotContains(t, string(resp.Body), "smtp-pa55")

	settings, err := tr.Client.GetSettings(t.Context())
	require.NoError(t, err)
	require.Equal(t, "https://capsol.example.com", *settings.PublicURL)
	require.Equal(t, "https://idp.example.com", *settings.OIDC.Issuer)
	require.Equal(t, "set", *settings.OIDC.ClientSecret)
	require.Equal(t, "set", *settings.SMTPURL)

	raw := send(t, http.MethodGet, tr.URL+"/v1/settings", testAdminKey, "")
	require.NotContains(t, string(raw.Body), "s3cret")
	require.NotContains(t, string(raw.Body), "pa55")

	audit, err := tr.Client.RegistryAudit(t.Context(), client.AuditFilter{})
	require.NoError(t, err)
	require.NotContains(t, string(mustJSON(t, audit)), "s3cret", "the audit names fields, never secret values")

	// "oidc": null clears all three fields.
	settings, err = tr.Client.UpdateSettings(t.Context(), client.SettingsUpdate{ClearOIDC: true, SMTPURL: client.Clear()})
	require.NoError(t, err)
	require.Nil(t, settings.OIDC.Issuer)
	require.Nil(t, settings.OIDC.ClientSecret)
	require.Nil(t, settings.SMTPURL)
	require.Equal(t, "https://capsol.example.com", *settings.PublicURL)

	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/settings", testAdminKey, `{"smtp_url": "http://mail"}`), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/settings", testAdminKey, `{"oidc": {"issuer": "https://x", "secret": "y"}}`), http.StatusBadRequest, "invalid_request")
	requireError(t, send(t, http.MethodPatch, tr.URL+"/v1/settings", testAdminKey, `{"colour": "blue"}`), http.StatusBadRequest, "invalid_request")
}

func TestGrantsAndPolicyThroughClient(t *testing.T) {
	tr := bootDaemon(t)
	grants, err := tr.Client.ListGrants(t.Context(), client.GrantFilter{Status: "pending"})
	require.NoError(t, err)
	require.Empty(t, grants)
	_, err = tr.Client.ApproveGrant(t.Context(), "grt_01hq3zg0000000000000000001")
	requireAPIError(t, err, http.StatusNotFound, "not_found")

	policy, err := tr.Client.GetPolicy(t.Context())
	require.NoError(t, err)
	policy.MaxIdleDays = 30
	updated, err := tr.Client.SetPolicy(t.Context(), policy)
	require.NoError(t, err)
	require.Equal(t, 30, updated.MaxIdleDays)

	require.NoError(t, tr.Client.RevokeOAuthToken(t.Context(), "capsol_at_unknown"), "unknown tokens answer 200")
	err = tr.Client.RevokeOAuthToken(t.Context(), "")
	requireAPIError(t, err, http.StatusBadRequest, "invalid_request")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return data
}
