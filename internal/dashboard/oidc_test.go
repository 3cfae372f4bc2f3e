package dashboard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/pkg/client"
)

// setCookieLine returns the Set-Cookie header line of cookie name.
func setCookieLine(header http.Header, name string) string {
	for _, line := range header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line
		}
	}
	return ""
}

func TestOIDCSignIn(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	op, err := e.client.CreateOperator(t.Context(), "ada@example.com", "admin")
	require.NoError(t, err)
	b := newBrowser(t)

	// The login route sets the short-lived state cookie and redirects to
	// the provider with PKCE S256, state and nonce.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.base + "/auth/oidc/login")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	state := setCookieLine(resp.Header, "capsol_oidc")
	require.Contains(t, state, "HttpOnly")
	require.Contains(t, state, "SameSite=Lax")
	require.Contains(t, state, "Max-Age=600")
	require.NotContains(t, state, "Secure", "the public URL is http")
	location, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(location.String(), m.Issuer()), "redirect to %s", location)
	q := location.Query()
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.NotEmpty(t, q.Get("code_challenge"))
	require.NotEmpty(t, q.Get("state"))
	require.NotEmpty(t, q.Get("nonce"))
	require.Equal(t, e.base+"/auth/oidc/callback", q.Get("redirect_uri"))

	// The callback returns a same-site page, not a redirect, so that the
	// Strict session cookie is sent on the next navigation.
	callback := e.oidcSignIn(b, m, e.base+"/auth/oidc/login", user("Ada@Example.com", true))
	require.Equal(t, http.StatusOK, callback.status, callback.body)
	require.Equal(t, "/auth/oidc/callback", callback.url.Path)
	require.Contains(t, callback.body, `<meta http-equiv="refresh" content="0; url=/dashboard">`)
	require.Contains(t, callback.body, `href="/dashboard"`)
	session := setCookieLine(callback.header, "capsol_session")
	require.Contains(t, session, "HttpOnly")
	require.Contains(t, session, "SameSite=Strict")
	require.Contains(t, session, "Path=/")
	require.NotEmpty(t, b.cookie(e.base, "capsol_session"))

	dashboard := b.get(e.base + "/dashboard")
	require.Equal(t, http.StatusOK, dashboard.status)
	require.Equal(t, "/dashboard/capsules", dashboard.url.Path)
	require.Contains(t, dashboard.body, "ada@example.com")
	require.True(t, e.hasAction("sign-in", op.ID), "the sign-in is in the registry audit")

	operators, err := e.client.ListOperators(t.Context())
	require.NoError(t, err)
	require.NotNil(t, operators[0].LastLoginAt)
}

func TestOIDCInviteBindsRole(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	invite, err := e.client.InviteOperator(t.Context(), "bea@example.com", "approver")
	require.NoError(t, err)
	b := newBrowser(t)

	// Another verified account cannot use the link.
	wrong := e.oidcSignIn(b, m, invite.URL, user("mallory@example.com", true))
	require.Equal(t, http.StatusForbidden, wrong.status)
	require.Contains(t, wrong.body, "this invite is for bea@example.com")

	callback := e.oidcSignIn(b, m, invite.URL, user("bea@example.com", true))
	require.Equal(t, http.StatusOK, callback.status, callback.body)
	require.Contains(t, callback.body, "invite is accepted")

	operators, err := e.client.ListOperators(t.Context())
	require.NoError(t, err)
	require.Len(t, operators, 1)
	require.Equal(t, "bea@example.com", operators[0].Email)
	require.Equal(t, "approver", operators[0].Role)
	invites, err := e.client.ListInvites(t.Context())
	require.NoError(t, err)
	require.Equal(t, "consumed", invites[0].Status)
	require.True(t, e.hasAction("invite.accept", operators[0].ID))

	page := b.get(e.base + "/dashboard/approvals")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<span class="badge warn">approver</span>`)

	// The link works once.
	again := e.oidcSignIn(newBrowser(t), m, invite.URL, user("bea@example.com", true))
	require.Equal(t, http.StatusNotFound, again.status)
	require.Contains(t, again.body, "invite_invalid")
	require.Contains(t, again.body, "consumed")
}

func TestOIDCUnverifiedEmailRefused(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	_, err := e.client.CreateOperator(t.Context(), "ada@example.com", "admin")
	require.NoError(t, err)
	b := newBrowser(t)

	page := e.oidcSignIn(b, m, e.base+"/auth/oidc/login", user("ada@example.com", false))
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "email_not_verified")
	require.Contains(t, page.body, "Email not verified")
	require.Empty(t, b.cookie(e.base, "capsol_session"))
	require.Empty(t, setCookieLine(page.header, "capsol_session"))
}

func TestOIDCUnknownEmailRefused(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	b := newBrowser(t)

	page := e.oidcSignIn(b, m, e.base+"/auth/oidc/login", user("stranger@example.com", true))
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "not_an_operator")
	require.Contains(t, page.body, "stranger@example.com is not an operator of this registry. Ask an admin to invite you")
	require.Empty(t, b.cookie(e.base, "capsol_session"))
	operators, err := e.client.ListOperators(t.Context())
	require.NoError(t, err)
	require.Empty(t, operators, "an unknown email creates nothing")
}

func TestOIDCDisabledOperator(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	op, err := e.client.CreateOperator(t.Context(), "ada@example.com", "admin")
	require.NoError(t, err)
	b := newBrowser(t)
	require.Equal(t, http.StatusOK, e.oidcSignIn(b, m, e.base+"/auth/oidc/login", user("ada@example.com", true)).status)
	require.Equal(t, http.StatusOK, b.get(e.base+"/dashboard/capsules").status)
	cookie := b.cookie(e.base, "capsol_session")

	_, err = e.client.SetOperatorStatus(t.Context(), op.ID, "disabled")
	require.NoError(t, err)

	// The open session dies on its next request, in the dashboard and in
	// the API.
	page := b.get(e.base + "/dashboard/capsules")
	require.Equal(t, "/dashboard/login", page.url.Path)
	require.Equal(t, "1", page.url.Query().Get("ended"))
	require.Contains(t, page.body, "Your session ended")
	req, err := http.NewRequest(http.MethodGet, e.d.URL+"/v1/capsules", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: "capsol_session", Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// New sign-ins are refused.
	again := e.oidcSignIn(b, m, e.base+"/auth/oidc/login", user("ada@example.com", true))
	require.Equal(t, http.StatusForbidden, again.status)
	require.Contains(t, again.body, "operator_disabled")
}

func TestOIDCRoleChangeOnNextLogin(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	op, err := e.client.CreateOperator(t.Context(), "cy@example.com", "viewer")
	require.NoError(t, err)
	first := newBrowser(t)
	require.Equal(t, http.StatusOK, e.oidcSignIn(first, m, e.base+"/auth/oidc/login", user("cy@example.com", true)).status)
	badge := regexp.MustCompile(`<span class="[^"]*">(viewer|approver|admin)</span>\s*<form method="post" action="/dashboard/logout">`)
	require.Equal(t, "viewer", badge.FindStringSubmatch(first.get(e.base + "/dashboard/connections").body)[1])

	_, err = e.client.SetOperatorRole(t.Context(), op.ID, "approver")
	require.NoError(t, err)

	page := first.get(e.base + "/dashboard/connections")
	require.Equal(t, "viewer", badge.FindStringSubmatch(page.body)[1], "the open session keeps its role")
	denied := first.post(e.base+"/dashboard/grants/grt_01hq3zg0000000000000000001/approve", url.Values{"csrf_token": {csrfOf(t, page.body)}})
	require.Equal(t, http.StatusForbidden, denied.status)
	require.Contains(t, denied.body, "forbidden")

	second := newBrowser(t)
	require.Equal(t, http.StatusOK, e.oidcSignIn(second, m, e.base+"/auth/oidc/login", user("cy@example.com", true)).status)
	require.Equal(t, "approver", badge.FindStringSubmatch(second.get(e.base + "/dashboard/connections").body)[1], "the next sign-in has the new role")
}

func TestOIDCCallbackChecksState(t *testing.T) {
	e := startDaemon(t, envOptions{})
	e.startOIDC()
	b := newBrowser(t)

	page := b.get(e.base + "/auth/oidc/callback?code=abc&state=forged")
	require.Equal(t, http.StatusBadRequest, page.status)
	require.Contains(t, page.body, "oidc_state_mismatch")

	page = b.get(e.base + "/auth/oidc/callback?error=access_denied&error_description=user+cancelled")
	require.Equal(t, http.StatusForbidden, page.status)
	require.Contains(t, page.body, "user cancelled")
}

func TestOIDCNotConfigured(t *testing.T) {
	e := startDaemon(t, envOptions{})
	b := newBrowser(t)
	page := b.get(e.base + "/auth/oidc/login")
	require.Equal(t, http.StatusServiceUnavailable, page.status)
	require.Contains(t, page.body, "oidc_not_configured")

	login := b.get(e.base + "/dashboard/login")
	require.NotContains(t, login.body, "/auth/oidc/login", "no OIDC button without an identity provider")
	require.Contains(t, login.body, `name="admin_key"`)
}

func TestInviteEmailDelivered(t *testing.T) {
	e := startDaemon(t, envOptions{})
	m := e.startOIDC()
	box := startMailbox(t)
	_, err := e.client.UpdateSettings(t.Context(), client.SettingsUpdate{SMTPURL: client.Set(box.url())})
	require.NoError(t, err)

	invite, err := e.client.InviteOperator(t.Context(), "dan@example.com", "viewer")
	require.NoError(t, err)
	require.True(t, invite.Emailed)

	msg := box.next(t)
	require.Equal(t, "capsol@example.com", msg.from)
	require.Equal(t, []string{"dan@example.com"}, msg.to)
	require.Contains(t, msg.data, "Subject: You are invited to operate the capsol registry")
	link := regexp.MustCompile(`http://\S+/invite/capsol_inv_\w+`).FindString(msg.data)
	require.Equal(t, invite.URL, link, "the email carries the invite link")

	callback := e.oidcSignIn(newBrowser(t), m, link, user("dan@example.com", true))
	require.Equal(t, http.StatusOK, callback.status, callback.body)
	operators, err := e.client.ListOperators(t.Context())
	require.NoError(t, err)
	require.Equal(t, "viewer", operators[0].Role)

	again := e.oidcSignIn(newBrowser(t), m, link, user("dan@example.com", true))
	require.Equal(t, http.StatusNotFound, again.status)
	require.Contains(t, again.body, "invite_invalid")
}

func TestInviteEmailFailureKeepsLink(t *testing.T) {
	e := startDaemon(t, envOptions{})
	closed := "127.0.0.1:" + itoa(freePort(t))
	_, err := e.client.UpdateSettings(t.Context(), client.SettingsUpdate{SMTPURL: client.Set("smtp://" + closed)})
	require.NoError(t, err)

	invite, err := e.client.InviteOperator(t.Context(), "dan@example.com", "viewer")
	require.NoError(t, err)
	require.False(t, invite.Emailed)
	require.Contains(t, invite.URL, "/invite/capsol_inv_")
}
