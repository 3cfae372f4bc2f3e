package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/pkg/client"
)

// chromiumPath returns the Chromium binary for the browser tests. Without
// one the tests are skipped, except under CI, where they must run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CAPSOL_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	for _, candidate := range candidates {
		if candidate == "" {
			continue
		}
		if path, err := exec.LookPath(candidate); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no Chromium binary was found: install it with apt-get install -y chromium (.ci/run does), or set CAPSOL_CHROMIUM")
	}
	t.Skip("browser tests skipped: no Chromium binary found (install it with apt-get install -y chromium); under CI they run and fail instead")
	return ""
}

// chrome starts a headless Chromium with a fresh profile and returns the
// context of its first tab.
func chrome(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)), "start Chromium")
	return ctx
}

// tab drives one browser tab with a timeout per step, so that a missing
// element fails the test with the step that waited instead of hanging.
type tab struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...), what)
}

func (b *tab) open(target string) {
	b.t.Helper()
	b.do("open "+target, chromedp.Navigate(target), chromedp.WaitReady(chromedp.CSS("body")))
}

// click clicks selector and waits until an element of the next page is
// visible.
func (b *tab) click(selector, next string) {
	b.t.Helper()
	b.do("click "+selector, chromedp.Click(chromedp.CSS(selector), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(next)))
}

func (b *tab) text(selector string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector), chromedp.NodeVisible))
	require.NoError(b.t, err, "text of "+selector)
	return text
}

func (b *tab) location() *url.URL {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(b.t, err)
	u, err := url.Parse(loc)
	require.NoError(b.t, err)
	return u
}

// screenshot saves the whole current page at laptop and phone widths.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	for _, width := range []int64{1280, 390} {
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		require.NoError(b.t, chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		require.NoError(b.t, err, "screenshot "+name)
		path := filepath.Join(b.shots, fmt.Sprintf("%s-%d.png", name, width))
		require.NoError(b.t, os.WriteFile(path, png, 0o644))
	}
	b.do("reset viewport", chromedp.EmulateViewport(1280, 900))
}

// screenshotDir is where screenshots go: CAPSOL_SCREENSHOT_DIR when set,
// else a temporary directory of the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CAPSOL_SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestBrowserDashboard drives the dashboard in headless Chromium as an
// operator would. It signs in with the admin key, takes screenshots of
// every page at laptop and phone width, revokes a connection, approves an
// OAuth request and invites an operator. It then submits forged forms from
// other origins, signs in with OIDC through a cross-site redirect chain,
// and rotates the admin key. The public URL uses the host localhost, so
// pages on 127.0.0.1 are another site.
func TestBrowserDashboard(t *testing.T) {
	ctx := chrome(t)
	e := startDaemon(t, envOptions{host: "localhost", keyFile: true})
	b := &tab{t: t, ctx: ctx, shots: screenshotDir(t)}
	t.Logf("screenshots in %s", b.shots)

	var capsuleID, credential, connectionID string

	t.Run("break-glass sign-in", func(t *testing.T) {
		b.t = t
		b.open(e.base + "/dashboard")
		require.Equal(t, "/dashboard/login", b.location().Path)
		b.screenshot("login")

		b.do("type the admin key", chromedp.SendKeys(chromedp.ID("admin_key"), testAdminKey))
		b.click(`form[action="/dashboard/login"] button[type=submit]`, "nav")
		require.Equal(t, "/dashboard/capsules", b.location().Path)
		require.Contains(t, b.text("header .who"), "admin key (break-glass)")

		cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{e.base}})
		require.NoError(t, err)
		require.Len(t, cookies.Cookies, 1)
		session := cookies.Cookies[0]
		require.Equal(t, "capsol_session", session.Name)
		require.Equal(t, sessionValueOf(testAdminKey), session.Value)
		require.True(t, session.HTTPOnly)
		require.Equal(t, network.CookieSameSiteStrict, session.SameSite)
		require.True(t, e.hasAction("break-glass", "admin-key"), "the sign-in is in the registry audit as break-glass")
		b.screenshot("capsules-empty")
	})

	t.Run("create a capsule and a share", func(t *testing.T) {
		b.t = t
		b.do("name the capsule", chromedp.SendKeys(chromedp.ID("name"), "team-notes"))
		b.click(`form[action="/dashboard/capsules"] button.primary`, "#share_label")
		capsuleID = strings.TrimPrefix(b.location().Path, "/dashboard/capsules/")
		require.Contains(t, b.text("main .notice"), "Capsule created")
		b.screenshot("capsule")

		b.do("label the share", chromedp.SendKeys(chromedp.ID("share_label"), "build-agent"),
			chromedp.SetValue(chromedp.ID("share_role"), "writer"))
		b.click(`form[action$="/shares"] button.primary`, "#secret")
		credential = b.text("#secret")
		require.True(t, strings.HasPrefix(credential, "capsol_share_"), credential)
		b.screenshot("share-created")

		connections, err := e.client.ListConnections(t.Context(), client.ConnectionFilter{CapsuleID: capsuleID})
		require.NoError(t, err)
		require.Len(t, connections, 1)
		connectionID = connections[0].ConnectionID
		require.True(t, e.hasAction("share.create", "admin-key"))
	})

	t.Run("revoke a connection", func(t *testing.T) {
		b.t = t
		session := connectMCP(t, e, capsuleID, credential)
		_, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "capsule_info", Arguments: map[string]any{}})
		require.NoError(t, err)

		b.open(e.base + "/dashboard/connections")
		b.screenshot("connections")
		b.click("#"+connectionID+" a.danger", "main form button.danger")
		require.Contains(t, b.text("main h1"), "Revoke connection build-agent?")
		b.screenshot("confirm-revoke")
		b.click("main form button.danger", "main .notice")
		require.Contains(t, b.text("main .notice"), "token_revoked")
		require.Contains(t, b.text("#"+connectionID), "revoked")

		status, code := mcpInitialize(t, e, capsuleID, credential)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "token_revoked", code)
		result, err := session.CallTool(t.Context(), &mcp.CallToolParams{Name: "capsule_info", Arguments: map[string]any{}})
		require.True(t, err != nil || result.IsError, "the open MCP session is refused too")
		require.True(t, e.hasAction("connection.revoke", "admin-key"))
	})

	t.Run("approve a pending OAuth request", func(t *testing.T) {
		b.t = t
		authorize := pendingAuthorization(t, e, capsuleID)
		grants, err := e.client.ListGrants(t.Context(), client.GrantFilter{Status: "pending"})
		require.NoError(t, err)
		require.Len(t, grants, 1)

		b.open(e.base + "/dashboard/approvals")
		require.Contains(t, b.text("nav"), "Approvals1")
		require.Contains(t, b.text("#"+grants[0].ID), "http://127.0.0.1:53682/callback")
		b.screenshot("approvals")
		b.click("#"+grants[0].ID+" button.primary", "main .notice")
		require.Contains(t, b.text("main .notice"), "Request approved")

		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(authorize)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode)
		location, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.NotEmpty(t, location.Query().Get("code"), "the approved request completes with a code")
		require.True(t, e.hasAction("grant.approve", "admin-key"))
	})

	t.Run("invite an operator", func(t *testing.T) {
		b.t = t
		b.open(e.base + "/dashboard/operators")
		b.do("fill the invite", chromedp.SendKeys(chromedp.ID("email"), "eve@example.com"),
			chromedp.SetValue(chromedp.ID("role"), "approver"))
		b.screenshot("operators")
		b.click(`form[action="/dashboard/operators/invites"] button.primary`, "#invite-url")
		link := b.text("#invite-url")
		require.Regexp(t, `^http://localhost:\d+/invite/capsol_inv_\w+$`, link)
		b.screenshot("invite-created")

		invites, err := e.client.ListInvites(t.Context())
		require.NoError(t, err)
		require.Len(t, invites, 1)
		require.Equal(t, "eve@example.com", invites[0].Email)
		require.Equal(t, "approver", invites[0].Role)
		require.Equal(t, "pending", invites[0].Status)
		require.True(t, e.hasAction("operator.invite", "admin-key"))
	})

	t.Run("activity and settings pages", func(t *testing.T) {
		b.t = t
		b.open(e.base + "/dashboard/activity?capsule_id=" + capsuleID)
		require.Contains(t, b.text("main"), "break-glass")
		b.screenshot("activity")
		b.open(e.base + "/dashboard/settings")
		require.Contains(t, b.text("main"), e.base+"/auth/oidc/callback")
		b.screenshot("settings")
		b.open(e.base + "/dashboard/capsules")
		b.screenshot("capsules")
	})

	t.Run("forged cross-origin forms", func(t *testing.T) {
		b.t = t
		forged := forgeryServer(t, e.base)
		_, port, err := net.SplitHostPort(strings.TrimPrefix(forged, "http://"))
		require.NoError(t, err)

		// A page of another origin on the same site (localhost, another
		// port): the browser sends the Strict cookie, and the missing CSRF
		// token stops the request.
		sameSite := "http://localhost:" + port
		b.open(sameSite + "/")
		b.click("#dashboard-form button", "main code")
		require.Equal(t, "csrf_failed", b.text("main code"))
		b.screenshot("csrf-refused")
		b.open(sameSite + "/")
		b.click("#api-form button", "pre")
		require.Contains(t, b.text("pre"), `"error_code":"csrf_failed"`)

		// A page of another site (127.0.0.1): SameSite=Strict keeps the
		// cookie off, so the request is not signed in at all.
		crossSite := "http://127.0.0.1:" + port
		b.open(crossSite + "/")
		b.click("#dashboard-form button", "main code")
		require.Equal(t, "invalid_token", b.text("main code"))
		require.Contains(t, b.text("main h1"), "Not signed in")
		b.open(crossSite + "/")
		b.click("#api-form button", "pre")
		require.Contains(t, b.text("pre"), `"error_code":"invalid_token"`)

		capsules, err := e.client.ListCapsules(t.Context(), "", "forged")
		require.NoError(t, err)
		require.Empty(t, capsules, "no forged request changed anything")
	})

	t.Run("OIDC sign-in through a cross-site redirect", func(t *testing.T) {
		b.t = t
		m := e.startProvider(true)
		_, err := e.client.CreateOperator(t.Context(), "ada@example.com", "admin")
		require.NoError(t, err)
		m.QueueUser(user("ada@example.com", true))

		b.open(e.base + "/dashboard")
		b.click(`form[action="/dashboard/logout"] button`, "#admin_key")
		b.screenshot("login-oidc")

		// The click on the provider's page makes the redirect back to the
		// callback a cross-site navigation. The callback page then moves
		// on to the dashboard, and that same-site navigation carries the
		// SameSite=Strict session cookie.
		b.click(`a[href^="/auth/oidc/login"]`, "#idp-continue")
		b.click("#idp-continue", "nav")
		require.Equal(t, "/dashboard/capsules", b.location().Path)
		require.Contains(t, b.text("header .who"), "ada@example.com")
		b.open(e.base + "/dashboard/operators")
		b.screenshot("operators-signed-in")
	})

	t.Run("admin key rotation ends break-glass sessions", func(t *testing.T) {
		b.t = t
		b.open(e.base + "/dashboard")
		b.click(`form[action="/dashboard/logout"] button`, "#admin_key")
		b.do("type the admin key", chromedp.SendKeys(chromedp.ID("admin_key"), testAdminKey))
		b.click(`form[action="/dashboard/login"] button[type=submit]`, "nav")
		require.Contains(t, b.text("header .who"), "break-glass")

		rotated := "rotated-admin-key-0123456789abcdef"
		require.NoError(t, os.WriteFile(filepath.Join(e.home, "admin.key"), []byte(rotated+"\n"), 0o600))
		require.NoError(t, e.d.ReloadAdminKey())

		b.open(e.base + "/dashboard/capsules")
		require.Equal(t, "/dashboard/login", b.location().Path)
		require.Contains(t, b.text("main"), "Your session ended")
	})
}

// connectMCP opens an MCP session with a share credential.
func connectMCP(t *testing.T, e *env, capsuleID, credential string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "dashboard-test", Version: "1.0.0"}, nil)
	transport := &mcp.StreamableClientTransport{
		Endpoint:   e.d.URL + "/mcp/" + capsuleID,
		HTTPClient: &http.Client{Transport: bearer{token: credential}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	session, err := c.Connect(ctx, transport, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	return session
}

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpInitialize sends an MCP initialize request with a credential and
// returns the status and error_code.
func mcpInitialize(t *testing.T, e *env, capsuleID, credential string) (int, string) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, e.d.URL+"/mcp/"+capsuleID, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error_code"].(string)
	return resp.StatusCode, code
}

// pendingAuthorization registers an OAuth client and sends an
// authorization request, which waits for approval as a pending grant. It
// returns the authorization URL, which completes once the grant is
// approved.
func pendingAuthorization(t *testing.T, e *env, capsuleID string) string {
	t.Helper()
	registration := `{"redirect_uris":["http://127.0.0.1:53682/callback"],"client_name":"Claude Desktop","token_endpoint_auth_method":"none"}`
	resp, err := http.Post(e.d.URL+"/oauth/register", "application/json", strings.NewReader(registration))
	require.NoError(t, err)
	var registered map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&registered))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", registered)

	q := url.Values{
		"response_type": {"code"}, "client_id": {registered["client_id"].(string)},
		"redirect_uri": {"http://127.0.0.1:53682/callback"}, "state": {"state-" + strconv.FormatInt(time.Now().UnixNano(), 36)},
		"code_challenge": {pkceChallenge("verifier-0123456789-0123456789-0123456789-0123")}, "code_challenge_method": {"S256"},
		"resource": {e.base + "/mcp/" + capsuleID}, "scope": {"capsule:read"},
	}
	authorize := e.d.URL + "/oauth/authorize?" + q.Encode()
	resp, err = http.Get(authorize)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the request waits for approval")
	return authorize
}

// forgeryServer serves a page with two forms that post to the registry
// without a CSRF token: one to a dashboard action, one to /v1 with a
// text/plain body shaped like JSON.
func forgeryServer(t *testing.T, target string) string {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Free prizes</title>
<form id="dashboard-form" method="post" action="%[1]s/dashboard/capsules">
<input type="hidden" name="name" value="forged-dashboard"><button type="submit">Claim prize</button></form>
<form id="api-form" method="post" action="%[1]s/v1/capsules" enctype="text/plain">
<input type="hidden" name='{"name":"forged-api","x":"' value='"}'><button type="submit">Claim another</button></form>`, target)
	}))
	t.Cleanup(server.Close)
	return server.URL
}
