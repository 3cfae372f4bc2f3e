package dashboard_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/pkg/client"
)

const testAdminKey = "dashboard-test-admin-key-0123456789"

// env is a running daemon with a client that holds its admin key.
type env struct {
	t      *testing.T
	d      *daemon.Daemon
	client *client.Client
	// base is the public URL; browsers and cookie jars use it.
	base string
	home string
}

type envOptions struct {
	// host is the host of the public URL: "127.0.0.1" by default, or
	// "localhost" so that a page on 127.0.0.1 is another site.
	host string
	// keyFile makes the daemon read the admin key from
	// $CAPSOL_HOME/admin.key instead of the environment.
	keyFile bool
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// startDaemon boots a daemon on temporary directories and a free loopback
// port. The public URL names the same port, so the OIDC callback reaches
// this daemon.
func startDaemon(t *testing.T, opts envOptions) *env {
	t.Helper()
	if opts.host == "" {
		opts.host = "127.0.0.1"
	}
	port := freePort(t)
	base := "http://" + net.JoinHostPort(opts.host, strconv.Itoa(port))
	home := t.TempDir()
	cfg := config.Config{
		DataDir: t.TempDir(), Home: home, Listen: "127.0.0.1", Port: port, PublicURL: base,
		Env: config.Development, AdminKey: testAdminKey,
	}
	if opts.keyFile {
		cfg.AdminKey = ""
		require.NoError(t, os.WriteFile(filepath.Join(home, "admin.key"), []byte(testAdminKey+"\n"), 0o600))
	}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Shutdown()) })
	return &env{t: t, d: d, client: client.New(d.URL, testAdminKey, nil), base: base, home: home}
}

// startOIDC starts a real OpenID provider on loopback and points the
// registry's OIDC settings at it through PATCH /v1/settings. Its
// authorization endpoint redirects back at once.
func (e *env) startOIDC() *mockoidc.MockOIDC {
	return e.startProvider(false)
}

// startProvider starts the OpenID provider. With signInPage, the
// authorization endpoint first shows a page whose button the person
// clicks, as a real provider's sign-in form, so that the redirect back to
// the registry starts on the provider's site.
func (e *env) startProvider(signInPage bool) *mockoidc.MockOIDC {
	e.t.Helper()
	m, err := mockoidc.NewServer(nil)
	require.NoError(e.t, err)
	if signInPage {
		require.NoError(e.t, m.AddMiddleware(providerSignInPage))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(e.t, err)
	require.NoError(e.t, m.Start(ln, nil))
	e.t.Cleanup(func() { _ = m.Shutdown() })

	cfg := m.Config()
	_, err = e.client.UpdateSettings(e.t.Context(), client.SettingsUpdate{OIDC: &client.OIDCUpdate{
		Issuer: client.Set(cfg.Issuer), ClientID: client.Set(cfg.ClientID), ClientSecret: client.Set(cfg.ClientSecret),
	}})
	require.NoError(e.t, err)
	return m
}

// providerSignInPage replies to the first authorization request with a
// form that repeats it with signed_in=1, and lets that second request
// through.
func providerSignInPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.AuthorizationEndpoint || r.URL.Query().Get("signed_in") != "" {
			next.ServeHTTP(w, r)
			return
		}
		var fields strings.Builder
		for name, values := range r.URL.Query() {
			for _, value := range values {
				fmt.Fprintf(&fields, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(name), html.EscapeString(value))
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Identity provider</title><form method="get" action="%s">%s
<input type="hidden" name="signed_in" value="1"><button id="idp-continue" type="submit">Continue</button></form>`,
			mockoidc.AuthorizationEndpoint, fields.String())
	})
}

// user is an identity at the OpenID provider.
func user(email string, verified bool) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "sub-" + email, Email: email, EmailVerified: verified, PreferredUsername: strings.Split(email, "@")[0]}
}

// browser is an HTTP client with a cookie jar that follows redirects, as
// a browser without JavaScript does.
type browser struct {
	t    *testing.T
	http *http.Client
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, http: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

// page is a fetched page.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) get(target string) page {
	b.t.Helper()
	resp, err := b.http.Get(target)
	require.NoError(b.t, err)
	return readPage(b.t, resp)
}

func (b *browser) post(target string, form url.Values) page {
	b.t.Helper()
	resp, err := b.http.PostForm(target, form)
	require.NoError(b.t, err)
	return readPage(b.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(data), header: resp.Header}
}

// cookie returns the value of a cookie the browser holds for target.
func (b *browser) cookie(target, name string) string {
	u, err := url.Parse(target)
	require.NoError(b.t, err)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// oidcSignIn runs the OIDC sign-in from start (the login route or an
// invite link) as user and returns the callback page.
func (e *env) oidcSignIn(b *browser, m *mockoidc.MockOIDC, start string, u *mockoidc.MockUser) page {
	e.t.Helper()
	m.QueueUser(u)
	return b.get(start)
}

// csrfOf returns the CSRF token in a page's forms.
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	const marker = `name="csrf_token" value="`
	i := strings.Index(body, marker)
	require.GreaterOrEqual(t, i, 0, "page has no CSRF field")
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

// sessionValueOf returns the break-glass cookie value of an admin key:
// its lowercase hex SHA-256.
func sessionValueOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// mailbox is a real SMTP server on loopback that requires AUTH PLAIN and
// keeps every message it accepts.
type mailbox struct {
	addr     string
	username string
	password string
	messages chan mail
}

type mail struct {
	from string
	to   []string
	data string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	box := &mailbox{username: "capsol", password: "mail-pa55", messages: make(chan mail, 10)}
	server := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{box: box}, nil
	}))
	server.Domain = "localhost"
	server.AllowInsecureAuth = true
	server.ReadTimeout = 10 * time.Second
	server.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	box.addr = ln.Addr().String()
	go func() { _ = server.Serve(ln) }()
	t.Cleanup(func() { _ = server.Close() })
	return box
}

// url returns the smtp_url setting for the mailbox.
func (m *mailbox) url() string {
	return "smtp://" + m.username + ":" + m.password + "@" + m.addr + "?from=capsol@example.com"
}

func (m *mailbox) next(t *testing.T) mail {
	t.Helper()
	select {
	case msg := <-m.messages:
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("no email arrived within 10 seconds")
		return mail{}
	}
}

type mailSession struct {
	box    *mailbox
	authed bool
	mu     sync.Mutex
	msg    mail
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.box.username || password != s.box.password {
			return errors.New("invalid username or password")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg = mail{from: from}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	msg := s.msg
	s.mu.Unlock()
	msg.data = string(data)
	s.box.messages <- msg
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

// registryAudit returns the registry audit entries, decoded.
func (e *env) registryAudit() []map[string]any {
	e.t.Helper()
	lines, err := e.client.RegistryAudit(e.t.Context(), client.AuditFilter{})
	require.NoError(e.t, err)
	var entries []map[string]any
	for _, line := range lines {
		var entry map[string]any
		require.NoError(e.t, json.Unmarshal(line, &entry))
		entries = append(entries, entry)
	}
	return entries
}

// hasAction reports whether the registry audit has an entry with action
// and actor.
func (e *env) hasAction(action, actor string) bool {
	for _, entry := range e.registryAudit() {
		if entry["action"] == action && entry["actor"] == actor {
			return true
		}
	}
	return false
}

// pkceChallenge returns the S256 challenge of a verifier.
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func itoa(n int) string { return strconv.Itoa(n) }
