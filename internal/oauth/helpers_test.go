package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/internal/registry"
)

const adminKey = "oauth-test-admin-key-0123456789"

// testClock lets a test move the daemon's clock forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

type env struct {
	t      *testing.T
	d      *daemon.Daemon
	clock  *testClock
	client *http.Client // does not follow redirects
}

func startDaemon(t *testing.T) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := config.Config{
		DataDir: t.TempDir(), Home: t.TempDir(), Listen: "127.0.0.1", Port: port,
		Env: config.Development, AdminKey: adminKey,
	}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Shutdown() })
	clock := &testClock{}
	d.Registry.Clock = clock.now
	return &env{t: t, d: d, clock: clock, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
}

func (e *env) capsule(name string) string {
	e.t.Helper()
	c, err := e.d.Registry.CreateCapsule(name, "", false, 0)
	require.NoError(e.t, err)
	return c.ID
}

func (e *env) mcpURL(capsuleID string) string { return e.d.BaseURL + "/mcp/" + capsuleID }

// admin sends an admin API request and decodes the JSON response.
func (e *env) admin(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(e.t, err)
		reader = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, e.d.URL+path, reader)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// approvePending approves the only pending grant of a capsule through /v1.
func (e *env) approvePending(capsuleID string) string {
	e.t.Helper()
	status, out := e.admin(http.MethodGet, "/v1/grants?status=pending&capsule_id="+capsuleID, nil)
	require.Equal(e.t, http.StatusOK, status)
	grants := out["grants"].([]any)
	require.Len(e.t, grants, 1, "exactly one pending grant")
	id := grants[0].(map[string]any)["id"].(string)
	status, out = e.admin(http.MethodPost, "/v1/grants/"+id+"/approve", nil)
	require.Equal(e.t, http.StatusOK, status, "%v", out)
	require.Equal(e.t, "approved", out["status"])
	return id
}

// fetcher plays the user's browser: it opens the authorization URL, gets
// the waiting page, has the grant approved through /v1, and opens the URL
// again to receive the redirect with the code.
func (e *env) fetcher(capsuleID string) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		resp, err := e.client.Get(args.URL)
		require.NoError(e.t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(e.t, http.StatusOK, resp.StatusCode, "waiting page: %s", body)
		require.Contains(e.t, string(body), "Waiting for approval")

		e.approvePending(capsuleID)

		resp, err = e.client.Get(args.URL)
		require.NoError(e.t, err)
		resp.Body.Close()
		require.Equal(e.t, http.StatusFound, resp.StatusCode)
		location, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(e.t, err)
		q := location.Query()
		require.NotEmpty(e.t, q.Get("code"), "redirect without code: %s", location)
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

const redirectURI = "http://127.0.0.1:53682/callback"

// oauthSession connects with the Go SDK's OAuth handler, which discovers
// everything from the MCP endpoint's 401.
func (e *env) oauthSession(capsuleID string) (*mcp.ClientSession, *auth.AuthorizationCodeHandler) {
	e.t.Helper()
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{redirectURI}, ClientName: "go-sdk-e2e", TokenEndpointAuthMethod: "none",
		}},
		RedirectURL:              redirectURI,
		AuthorizationCodeFetcher: e.fetcher(capsuleID),
		Client:                   &http.Client{Timeout: 10 * time.Second},
	})
	require.NoError(e.t, err)
	client := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-e2e", Version: "1.0.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: e.mcpURL(capsuleID), OAuthHandler: handler, MaxRetries: -1,
	}, nil)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = session.Close() })
	return session, handler
}

// mcpStatus sends an initialize request with a bearer token and returns the
// status and error_code.
func (e *env) mcpStatus(capsuleID, token string) (int, string) {
	e.t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, e.mcpURL(capsuleID), strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	code, _ := out["error_code"].(string)
	return resp.StatusCode, code
}

// form posts a form and decodes the JSON response.
func (e *env) form(path string, values url.Values) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.client.PostForm(e.d.URL+path, values)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func decode(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

func (e *env) postJSON(path string, body any) (int, map[string]any) {
	e.t.Helper()
	data, err := json.Marshal(body)
	require.NoError(e.t, err)
	resp, err := e.client.Post(e.d.URL+path, "application/json", strings.NewReader(string(data)))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

var suffixCounter atomic.Int64

func randomSuffix() string {
	return strings.Repeat("x", 30) + time.Now().Format("150405.000000") + string(rune('a'+suffixCounter.Add(1)%26))
}

func registryFilterPending(capsuleID string) registry.GrantFilter {
	return registry.GrantFilter{Status: "pending", CapsuleID: capsuleID}
}
