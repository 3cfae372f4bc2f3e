package dashboard_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/pkg/client"
)

// signedInBrowser returns a browser with a dashboard session of a new
// operator with role, and the CSRF token of that session.
func (e *env) signedInBrowser(email, role string) (*browser, string) {
	e.t.Helper()
	op, err := e.client.CreateOperator(e.t.Context(), email, role)
	require.NoError(e.t, err)
	session, err := e.d.Registry.CreateSession(op.ID)
	require.NoError(e.t, err)
	b := newBrowser(e.t)
	u, err := url.Parse(e.base)
	require.NoError(e.t, err)
	b.http.Jar.SetCookies(u, []*http.Cookie{{Name: "capsol_session", Value: session.CookieValue, Path: "/"}})
	return b, session.CSRFToken
}

// breakGlassBrowser signs in with the admin key through the login form.
func (e *env) breakGlassBrowser() (*browser, string) {
	e.t.Helper()
	b := newBrowser(e.t)
	page := b.post(e.base+"/dashboard/login", url.Values{"admin_key": {testAdminKey}})
	require.Equal(e.t, http.StatusOK, page.status, page.body)
	require.Equal(e.t, "/dashboard/capsules", page.url.Path)
	return b, csrfOf(e.t, page.body)
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, _ := e.breakGlassBrowser()
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)

	paths := []string{"/dashboard/login", "/dashboard/capsules", "/dashboard/capsules/" + capsule.ID, "/dashboard/connections",
		"/dashboard/approvals", "/dashboard/operators", "/dashboard/activity", "/dashboard/settings", "/dashboard/capsules/" + capsule.ID + "/delete"}
	for _, path := range paths {
		page := b.get(e.base + path)
		require.Equal(t, http.StatusOK, page.status, path)
		csp := page.header.Get("Content-Security-Policy")
		require.Contains(t, csp, "frame-ancestors 'none'", path)
		require.Contains(t, csp, "default-src 'none'", path)
		require.NotContains(t, csp, "script-src", path)
		require.NotContains(t, csp, "unsafe-inline", path)
		require.Equal(t, "nosniff", page.header.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-referrer", page.header.Get("Referrer-Policy"), path)
		require.Equal(t, "DENY", page.header.Get("X-Frame-Options"), path)
		require.Equal(t, "no-store", page.header.Get("Cache-Control"), path)
		require.NotContains(t, page.body, "<script", path)
		require.NotContains(t, page.body, "style=", "inline styles would need unsafe-inline: "+path)
	}

	css := b.get(e.base + "/dashboard/static/app.css")
	require.Equal(t, http.StatusOK, css.status)
	require.Equal(t, "text/css; charset=utf-8", css.header.Get("Content-Type"))
}

func TestDashboardFormsNeedCSRF(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, csrf := e.breakGlassBrowser()

	page := b.post(e.base+"/dashboard/capsules", url.Values{"name": {"forged"}})
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "csrf_failed")
	page = b.post(e.base+"/dashboard/capsules", url.Values{"name": {"forged"}, "csrf_token": {strings.Repeat("0", 64)}})
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "csrf_failed")
	capsules, err := e.client.ListCapsules(t.Context(), "", "")
	require.NoError(t, err)
	require.Empty(t, capsules)

	page = b.post(e.base+"/dashboard/capsules", url.Values{"name": {"real"}, "csrf_token": {csrf}})
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "Capsule created.")
	require.True(t, e.hasAction("capsule.create", "admin-key"))

	// Signing out needs the token too.
	page = b.post(e.base+"/dashboard/logout", url.Values{})
	require.Equal(t, http.StatusForbidden, page.status)
	page = b.post(e.base+"/dashboard/logout", url.Values{"csrf_token": {csrf}})
	require.Equal(t, "/dashboard/login", page.url.Path)
	require.Empty(t, b.cookie(e.base, "capsol_session"))
}

func TestDashboardRoleLimits(t *testing.T) {
	e := startDaemon(t, envOptions{})
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)
	share, err := e.client.CreateShare(t.Context(), capsule.ID, client.CreateShareRequest{Label: "bot", Role: "reader"})
	require.NoError(t, err)

	viewer, viewerCSRF := e.signedInBrowser("viewer@example.com", "viewer")
	page := viewer.get(e.base + "/dashboard/connections")
	require.Equal(t, http.StatusOK, page.status)
	require.NotContains(t, page.body, "/confirm?status=revoked", "a viewer sees no revoke buttons")
	page = viewer.post(e.base+"/dashboard/connections/"+share.ConnectionID+"/status", url.Values{"status": {"revoked"}, "csrf_token": {viewerCSRF}})
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "forbidden")

	approver, approverCSRF := e.signedInBrowser("approver@example.com", "approver")
	page = approver.post(e.base+"/dashboard/capsules", url.Values{"name": {"x"}, "csrf_token": {approverCSRF}})
	require.Equal(t, http.StatusForbidden, page.status)
	page = approver.post(e.base+"/dashboard/connections/"+share.ConnectionID+"/status", url.Values{"status": {"paused"}, "csrf_token": {approverCSRF}})
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "connection_paused")
	connections, err := e.client.ListConnections(t.Context(), client.ConnectionFilter{})
	require.NoError(t, err)
	require.Equal(t, "paused", connections[0].Status)
}

func TestConnectionConfirmStyles(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, _ := e.breakGlassBrowser()
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)
	share, err := e.client.CreateShare(t.Context(), capsule.ID, client.CreateShareRequest{Label: "bot", Role: "reader"})
	require.NoError(t, err)
	confirm := e.base + "/dashboard/connections/" + share.ConnectionID + "/confirm?status="

	// Pausing and resuming can be undone, so they are normal actions.
	for _, status := range []string{"paused", "active"} {
		page := b.get(confirm + status)
		require.Equal(t, http.StatusOK, page.status, status)
		require.Contains(t, page.body, `<button class="primary" type="submit">`, status)
		require.NotContains(t, page.body, `class="danger"`, status)
		require.NotContains(t, page.body, "alert bad", status)
	}

	page := b.get(confirm + "revoked")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<button class="danger" type="submit">Revoke connection</button>`)
	require.Contains(t, page.body, "alert bad")
}

func TestApprovalsShowRequestDetails(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, _ := e.breakGlassBrowser()
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)
	authorize, err := url.Parse(pendingAuthorization(t, e, capsule.ID))
	require.NoError(t, err)
	clientID := authorize.Query().Get("client_id")
	require.NotEmpty(t, clientID)

	page := b.get(e.base + "/dashboard/approvals")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "<code class=\"small\">"+clientID+"</code>")
	require.Contains(t, page.body, "<code>http://127.0.0.1:53682/callback</code>")
}

func TestDashboardCapsuleActions(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, csrf := e.signedInBrowser("ada@example.com", "admin")
	ada, ok := e.d.Registry.OperatorByEmail("ada@example.com")
	require.True(t, ok)
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "legacy"})
	require.NoError(t, err)
	base := e.base + "/dashboard/capsules/" + capsule.ID

	page := b.post(base+"/claim", url.Values{"csrf_token": {csrf}})
	require.Contains(t, page.body, "You now own this capsule.")
	got, err := e.client.GetCapsule(t.Context(), capsule.ID)
	require.NoError(t, err)
	require.Equal(t, ada.ID, *got.OwnerID)

	page = b.post(base+"/owner", url.Values{"owner_id": {""}, "csrf_token": {csrf}})
	require.Contains(t, page.body, "Owner changed.")
	got, err = e.client.GetCapsule(t.Context(), capsule.ID)
	require.NoError(t, err)
	require.Nil(t, got.OwnerID)

	page = b.post(base+"/enrollments", url.Values{"role": {"reader"}, "label": {"laptop"}, "uses": {"3"}, "csrf_token": {csrf}})
	require.Equal(t, http.StatusCreated, page.status, page.body)
	require.Contains(t, page.body, "capsol_enroll_")
	enrollments, err := e.client.ListEnrollments(t.Context(), capsule.ID)
	require.NoError(t, err)
	require.Equal(t, 3, enrollments[0].UsesLeft)
	page = b.post(base+"/enrollments", url.Values{"role": {"reader"}, "uses": {"many"}, "csrf_token": {csrf}})
	require.Equal(t, http.StatusBadRequest, page.status)
	require.Contains(t, page.body, "not a whole number")

	page = b.post(e.base+"/dashboard/enrollments/"+enrollments[0].EnrollmentID+"/revoke", url.Values{"capsule_id": {capsule.ID}, "csrf_token": {csrf}})
	require.Contains(t, page.body, "Enrollment token revoked.")
	require.Equal(t, base, strings.Split(page.url.String(), "?")[0])

	confirm := b.get(base + "/delete")
	require.Contains(t, confirm.body, "Delete capsule legacy?")
	page = b.post(base+"/delete", url.Values{"csrf_token": {csrf}})
	require.Contains(t, page.body, "Capsule deleted.")
	_, err = e.client.GetCapsule(t.Context(), capsule.ID)
	require.Equal(t, "not_found", client.ErrorCode(err))

	for _, action := range []string{"capsule.update", "enrollment.create", "enrollment.revoke", "capsule.delete"} {
		require.True(t, e.hasAction(action, ada.ID), action)
	}
}

func TestDashboardSettingsForm(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b, csrf := e.breakGlassBrowser()
	form := url.Values{
		"csrf_token": {csrf}, "public_url": {"https://capsol.example.com"}, "oidc_issuer": {"https://idp.example.com"},
		"oidc_client_id": {"capsol"}, "oidc_client_secret": {"s3cret"}, "smtp_url": {"smtps://u:pa55@mail.example.com"},
	}
	page := b.post(e.base+"/dashboard/settings", form)
	require.Contains(t, page.body, "Settings saved.")
	require.NotContains(t, page.body, "s3cret")
	require.NotContains(t, page.body, "pa55")
	require.Contains(t, page.body, "set — leave empty to keep")

	// Empty secret fields keep the stored secrets.
	form.Set("oidc_client_secret", "")
	form.Set("smtp_url", "")
	b.post(e.base+"/dashboard/settings", form)
	settings, err := e.client.GetSettings(t.Context())
	require.NoError(t, err)
	require.Equal(t, "set", *settings.OIDC.ClientSecret)
	require.Equal(t, "set", *settings.SMTPURL)

	form.Set("clear_smtp_url", "1")
	b.post(e.base+"/dashboard/settings", form)
	settings, err = e.client.GetSettings(t.Context())
	require.NoError(t, err)
	require.Nil(t, settings.SMTPURL)
	require.Equal(t, "set", *settings.OIDC.ClientSecret)

	page = b.post(e.base+"/dashboard/settings", url.Values{"csrf_token": {csrf}, "public_url": {"not a url"}})
	require.Equal(t, http.StatusBadRequest, page.status)
	require.Contains(t, page.body, "public_url")

	policy := url.Values{
		"csrf_token": {csrf}, "allowed_roles": {"reader"}, "max_grant_age_days": {"90"}, "max_idle_days": {"0"},
		"anonymous_capsule_ttl_hours": {"24"}, "signal_ttl_seconds": {"3600"}, "max_pending_grants_per_capsule": {"5"},
	}
	page = b.post(e.base+"/dashboard/policy", policy)
	require.Contains(t, page.body, "Policy saved.")
	got, err := e.client.GetPolicy(t.Context())
	require.NoError(t, err)
	require.Equal(t, client.Policy{AllowedRoles: []string{"reader"}, MaxGrantAgeDays: 90, AnonymousCapsuleTTLHours: 24,
		SignalTTLSeconds: 3600, MaxPendingGrantsPerCapsule: 5}, got)
	require.True(t, e.hasAction("settings.update", "admin-key"))
	require.True(t, e.hasAction("policy.update", "admin-key"))
}

func TestBreakGlassSignIn(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b := newBrowser(t)

	page := b.post(e.base+"/dashboard/login", url.Values{"admin_key": {"wrong-key-0123456789"}})
	require.Equal(t, http.StatusUnauthorized, page.status)
	require.Contains(t, page.body, "That admin key is not correct.")
	require.False(t, e.hasAction("break-glass", "admin-key"))

	page = b.post(e.base+"/dashboard/login", url.Values{"admin_key": {testAdminKey}, "next": {"/dashboard/settings"}})
	require.Equal(t, "/dashboard/settings", page.url.Path)
	require.Equal(t, sessionValueOf(testAdminKey), b.cookie(e.base, "capsol_session"))
	require.True(t, e.hasAction("break-glass", "admin-key"))

	// next never leaves the registry.
	other := newBrowser(t)
	page = other.post(e.base+"/dashboard/login", url.Values{"admin_key": {testAdminKey}, "next": {"//evil.example/"}})
	require.Equal(t, "/dashboard/capsules", page.url.Path)

	// A sign-in form on another site is rejected.
	req, err := http.NewRequest(http.MethodPost, e.base+"/dashboard/login", strings.NewReader(url.Values{"admin_key": {testAdminKey}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestBreakGlassFailuresLimited(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b := newBrowser(t)
	for range 5 {
		page := b.post(e.base+"/dashboard/login", url.Values{"admin_key": {"wrong-key-0123456789"}})
		require.Equal(t, http.StatusUnauthorized, page.status)
	}
	page := b.post(e.base+"/dashboard/login", url.Values{"admin_key": {testAdminKey}})
	require.Equal(t, http.StatusTooManyRequests, page.status)
	require.Contains(t, page.body, "Too many failed attempts")
	require.Empty(t, b.cookie(e.base, "capsol_session"))
}

func TestConsentPageForSignedInApprover(t *testing.T) {
	e := startDaemon(t, envOptions{})
	capsule, err := e.client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "notes"})
	require.NoError(t, err)
	authorize := pendingAuthorization(t, e, capsule.ID)
	authorize = strings.Replace(authorize, e.d.URL, e.base, 1)

	viewer, _ := e.signedInBrowser("viewer@example.com", "viewer")
	page := viewer.get(authorize)
	require.Contains(t, page.body, "Waiting for approval", "a viewer cannot approve")

	approver, _ := e.signedInBrowser("approver@example.com", "approver")
	page = approver.get(authorize)
	require.Contains(t, page.body, "Allow Claude Desktop?")
	require.Contains(t, page.body, "You are signed in as op_")
}

func TestSavedPublicURLAppliesAtBoot(t *testing.T) {
	dataDir, home := t.TempDir(), t.TempDir()
	cfg := config.Config{DataDir: dataDir, Home: home, Listen: "127.0.0.1", Port: freePort(t),
		Env: config.Development, AdminKey: testAdminKey, SecretKey: strings.Repeat("k", 40)}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	c := client.New(d.URL, testAdminKey, nil)
	_, err = c.UpdateSettings(t.Context(), client.SettingsUpdate{
		PublicURL: client.Set("https://capsol.example.com"), SMTPURL: client.Set("smtp://mail.example.com"),
	})
	require.NoError(t, err)
	require.NoError(t, d.Shutdown())

	// The saved public URL applies from the next boot. A new secret key
	// makes the SMTP URL unreadable, which boot reports once.
	var logs bytes.Buffer
	cfg.SecretKey = strings.Repeat("n", 40)
	d, err = daemon.Boot(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	require.Equal(t, "https://capsol.example.com", d.BaseURL)
	require.Equal(t, 1, strings.Count(logs.String(), "setting=smtp_url"), logs.String())
	settings, err := client.New(d.URL, testAdminKey, nil).GetSettings(t.Context())
	require.NoError(t, err)
	require.Equal(t, "re-enter this value", *settings.SMTPURL)

	// CAPSOL_PUBLIC_URL wins over the saved value.
	require.NoError(t, d.Shutdown())
	cfg.PublicURL = "https://override.example.com"
	d, err = daemon.Boot(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, "https://override.example.com", d.BaseURL)
	require.NoError(t, d.Shutdown())
}

func TestSessionCookieSecureWithHTTPS(t *testing.T) {
	cfg := config.Config{DataDir: t.TempDir(), Home: t.TempDir(), Listen: "127.0.0.1", Port: freePort(t),
		Env: config.Development, AdminKey: testAdminKey, PublicURL: "https://capsol.example.com"}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Shutdown()) })

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(d.URL+"/dashboard/login", url.Values{"admin_key": {testAdminKey}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	cookie := setCookieLine(resp.Header, "capsol_session")
	require.Contains(t, cookie, "Secure")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Strict")
}
