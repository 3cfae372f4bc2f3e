package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/api"
	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/pkg/client"
)

// testAdminKey is the admin key of every test registry.
const testAdminKey = "test-admin-key-0123456789abcdef"

// testRegistry is a running registry and a client with its admin key.
type testRegistry struct {
	URL      string
	Client   *client.Client
	Store    *store.Store
	Registry *registry.Registry
	DataDir  string
}

// bootDaemon boots a real daemon on a temporary data directory and a free
// loopback port, and shuts it down when the test ends.
func bootDaemon(t *testing.T) *testRegistry {
	t.Helper()
	dataDir := t.TempDir()
	cfg := config.Config{
		DataDir: dataDir, Home: t.TempDir(), Listen: "127.0.0.1", Port: freePort(t),
		Env: config.Development, AdminKey: testAdminKey,
	}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Shutdown()) })
	return &testRegistry{
		URL: d.URL, Client: client.New(d.URL, testAdminKey, nil),
		Store: d.Store, Registry: d.Registry, DataDir: dataDir,
	}
}

// fakeClock is a settable clock for Registry.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// startServer serves the API of a registry whose clock is clock, on an
// httptest server. Unlike bootDaemon it sets the clock before anything
// reads it, and it runs no janitor of its own.
func startServer(t *testing.T, clock *fakeClock) *testRegistry {
	t.Helper()
	dataDir := t.TempDir()
	require.NoError(t, store.Initialize(dataDir))
	st, err := store.Open(dataDir, store.Options{})
	require.NoError(t, err)
	adminKey, _, err := keys.LoadAdminKey(testAdminKey, t.TempDir())
	require.NoError(t, err)

	logger := slog.New(slog.DiscardHandler)
	m := metrics.New()
	reg := registry.New(st, logger, m, "")
	reg.Clock = clock.Now
	server := &api.Server{Store: st, Registry: reg, Metrics: m, Logger: logger, AdminKey: adminKey}
	httpServer := httptest.NewServer(server.Router())
	reg.BaseURL = httpServer.URL
	server.BaseURL = httpServer.URL
	t.Cleanup(func() {
		httpServer.Close()
		require.NoError(t, reg.CloseRegistryAudit())
		require.NoError(t, reg.Close())
	})
	return &testRegistry{
		URL: httpServer.URL, Client: client.New(httpServer.URL, testAdminKey, nil),
		Store: st, Registry: reg, DataDir: dataDir,
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// response is a raw HTTP response with its body decoded as a JSON object
// when it is one.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// send makes a raw request. key is sent as the bearer token unless empty,
// and body as the request body unless empty.
func send(t *testing.T, method, url, key, body string) response {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
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

// requireError checks the status and error_code of a raw error response
// and that it carries a message.
func requireError(t *testing.T, resp response, status int, code string) {
	t.Helper()
	require.Equal(t, status, resp.Status, "body: %s", resp.Body)
	require.Equal(t, code, resp.JSON["error_code"], "body: %s", resp.Body)
	require.NotEmpty(t, resp.JSON["error"], "body: %s", resp.Body)
}

// requireAPIError checks that err is a client.APIError with status and
// code.
func requireAPIError(t *testing.T, err error, status int, code string) *client.APIError {
	t.Helper()
	var apiErr *client.APIError
	require.True(t, errors.As(err, &apiErr), "error %v is no *client.APIError", err)
	require.Equal(t, status, apiErr.Status, "message: %s", apiErr.Message)
	require.Equal(t, code, apiErr.Code, "message: %s", apiErr.Message)
	require.NotEmpty(t, apiErr.Message)
	return apiErr
}

func setPolicy(t *testing.T, st *store.Store, change func(*store.Policy)) {
	t.Helper()
	require.NoError(t, st.Policy.Update(func(p *store.Policy) error {
		change(p)
		return nil
	}))
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func decodeObject(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal(data, &obj))
	return obj
}
