package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

const testAdminKey = "test-admin-key-0123456789"

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startDaemon boots a daemon on temp dirs and a free loopback port.
func startDaemon(t *testing.T) *daemon.Daemon {
	t.Helper()
	cfg := config.Config{
		DataDir: t.TempDir(), Home: t.TempDir(), Listen: "127.0.0.1", Port: freePort(t),
		Env: config.Development, AdminKey: testAdminKey,
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := daemon.Boot(context.Background(), cfg, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Shutdown() })
	return d
}

// seedCapsule adds a capsule record.
func seedCapsule(t *testing.T, d *daemon.Daemon, name string) string {
	t.Helper()
	id := ids.New(ids.Capsule)
	require.NoError(t, d.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, store.Capsule{ID: id, Name: name, CreatedAt: time.Now().UTC()})
		return nil
	}))
	return id
}

type seededShare struct {
	connectionID string
	credential   string
	grantID      string
}

type shareOptions struct {
	status    string
	expiresAt *time.Time
	grant     string // grant status; empty means no grant
}

// seedShare adds a share with its credential the way the /v1 API stores
// them: only the credential's hash is written.
func seedShare(t *testing.T, d *daemon.Daemon, capsuleID, role string, opts shareOptions) seededShare {
	t.Helper()
	if opts.status == "" {
		opts.status = store.StatusActive
	}
	s := seededShare{connectionID: ids.New(ids.Connection), credential: secret.NewToken(secret.PrefixShare)}
	principalID := ids.New(ids.Principal)
	var grantID *string
	if opts.grant != "" {
		g := ids.New(ids.Grant)
		grantID = &g
		s.grantID = g
		require.NoError(t, d.Store.Grants.Update(func(doc *store.GrantsDoc) error {
			doc.Grants = append(doc.Grants, store.Grant{ID: g, CapsuleID: capsuleID, PrincipalID: principalID,
				Role: role, Status: opts.grant, RequestedAt: time.Now().UTC()})
			return nil
		}))
	}
	require.NoError(t, d.Store.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, store.Share{ConnectionID: s.connectionID, CapsuleID: capsuleID,
			PrincipalID: principalID, Label: "agent-" + role, Role: role, Kind: store.KindShare,
			Status: opts.status, GrantID: grantID, CreatedAt: time.Now().UTC(), ExpiresAt: opts.expiresAt})
		return nil
	}))
	connectionID := s.connectionID
	require.NoError(t, d.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = append(doc.Credentials, store.Credential{Hash: secret.Hash(s.credential),
			Kind: store.CredentialShare, ConnectionID: &connectionID, CapsuleID: capsuleID, CreatedAt: time.Now().UTC()})
		return nil
	}))
	return s
}

// setShareStatus changes a share's status the way the admin API does and
// notifies the registry, which closes the connection's open requests.
func setShareStatus(t *testing.T, d *daemon.Daemon, connectionID, status string) {
	t.Helper()
	require.NoError(t, d.Store.Shares.Update(func(doc *store.SharesDoc) error {
		for i := range doc.Shares {
			if doc.Shares[i].ConnectionID == connectionID {
				doc.Shares[i].Status = status
			}
		}
		return nil
	}))
	d.Registry.ConnectionChanged(connectionID)
}

type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// connect opens an MCP session with the official Go SDK client.
func connect(t *testing.T, d *daemon.Daemon, capsuleID, credential string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	session, err := dial(d, capsuleID, credential, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	return session
}

func dial(d *daemon.Daemon, capsuleID, credential string, opts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "capsol-test", Version: "1.0.0"}, opts)
	transport := &mcp.StreamableClientTransport{
		Endpoint:   d.URL + "/mcp/" + capsuleID,
		HTTPClient: &http.Client{Transport: bearerTransport{token: credential, base: http.DefaultTransport}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return client.Connect(ctx, transport, nil)
}

// call runs a tool and returns its structured result, its error code (for
// tool errors) and the raw result.
func call(t *testing.T, session *mcp.ClientSession, tool string, args any) (map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err, tool)
	var out map[string]any
	if res.StructuredContent != nil {
		data, err := json.Marshal(res.StructuredContent)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &out))
	}
	if res.IsError {
		code, _ := out["error_code"].(string)
		require.NotEmpty(t, code, "tool error without error_code: %+v", res.Content)
		return out, code
	}
	return out, ""
}

// rawInitialize posts an initialize request with a credential and returns
// the response.
func rawInitialize(t *testing.T, url, credential, protocol string) *http.Response {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + protocol +
		`","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func boxWrite(uri, content string) box.WriteRequest {
	return box.WriteRequest{URI: uri, Content: content, UpdatedBy: "test"}
}
