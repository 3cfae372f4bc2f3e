package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/store"
)

// metadataServer serves client metadata documents over TLS on loopback.
func metadataServer(t *testing.T, e *env, documents map[string]func(self string) any) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, srv.URL+"/client.json", http.StatusFound)
			return
		}
		doc, ok := documents[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc(srv.URL + r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	e.d.Server.OAuth.SetMetadataRootCAs(srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs)
	return srv
}

func allowPrivateMetadata(t *testing.T, e *env, allow bool) {
	t.Helper()
	require.NoError(t, e.d.Store.Settings.Update(func(s *store.Settings) error {
		s.OAuth.AllowPrivateClientMetadata = allow
		return nil
	}))
}

func (e *env) authorizeStatus(clientID, capsuleID string) (int, string) {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
		"state": {"cimd"}, "resource": {e.mcpURL(capsuleID)}, "scope": {"capsule:read"}}
	resp, err := e.client.Get(e.d.URL + "/oauth/authorize?" + q.Encode())
	require.NoError(e.t, err)
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, string(buf[:n])
}

func TestClientIDMetadataDocument(t *testing.T) {
	e := startDaemon(t)
	capsuleID := e.capsule("cimd")
	good := func(self string) any {
		return map[string]any{"client_id": self, "client_name": "Metadata Client", "redirect_uris": []string{redirectURI}}
	}
	srv := metadataServer(t, e, map[string]func(string) any{
		"/client.json": good,
		"/impostor.json": func(string) any {
			return map[string]any{"client_id": "https://other.example/client.json", "redirect_uris": []string{redirectURI}}
		},
		"/bad-redirect.json": func(self string) any {
			return map[string]any{"client_id": self, "redirect_uris": []string{"http://evil.example/cb"}}
		},
	})

	allowPrivateMetadata(t, e, false)
	status, body := e.authorizeStatus(srv.URL+"/client.json", capsuleID)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "private address")

	allowPrivateMetadata(t, e, true)
	status, body = e.authorizeStatus(srv.URL+"/client.json", capsuleID)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, "Metadata Client")
	grants, err := e.d.Registry.ListGrants(registryFilterPending(capsuleID))
	require.NoError(t, err)
	require.Len(t, grants, 1)
	assert.Equal(t, "Metadata Client", grants[0].ClientName)

	for _, path := range []string{"/impostor.json", "/bad-redirect.json", "/redirect", "/missing.json"} {
		status, _ := e.authorizeStatus(srv.URL+path, capsuleID)
		assert.Equal(t, http.StatusBadRequest, status, path)
	}
}
