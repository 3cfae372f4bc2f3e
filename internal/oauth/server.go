// Package oauth is capsol's own OAuth 2.1 authorization server for MCP
// clients: protected resource and authorization server metadata, dynamic
// client registration, Client ID Metadata Documents, the authorization
// code flow with PKCE S256 and resource indicators, refresh token rotation
// and revocation. Every grant is approved by a person before a code is
// issued.
package oauth

import (
	"crypto/x509"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/registry"
)

// Scopes a capsule's protected resource supports.
const (
	ScopeRead  = "capsule:read"
	ScopeWrite = "capsule:write"
)

// Limits of client input.
const (
	maxRegistrationBytes = 64 << 10
	maxRedirectURIs      = 10
	maxClientNameBytes   = 200
	codeTTL              = 60 * time.Second
)

// Server serves the OAuth endpoints of one daemon.
type Server struct {
	Registry  *registry.Registry
	AdminKey  *keys.AdminKey
	SecretKey *keys.SecretKey
	Logger    *slog.Logger

	// Approver returns the operator signed in on the request who may approve
	// grants, if any. The default accepts the break-glass admin-key session.
	Approver func(r *http.Request) (actor string, ok bool)

	// metadataRootCAs, when set, replaces the system roots for fetching
	// Client ID Metadata Documents; tests use it for their TLS server.
	metadataRootCAs atomic.Pointer[x509.CertPool]

	codes *codeStore
}

// New returns the OAuth server of a registry.
func New(reg *registry.Registry, adminKey *keys.AdminKey, secretKey *keys.SecretKey, logger *slog.Logger) *Server {
	s := &Server{Registry: reg, AdminKey: adminKey, SecretKey: secretKey, Logger: logger, codes: newCodeStore()}
	s.Approver = s.breakGlassApprover
	return s
}

// SetMetadataRootCAs replaces the system roots used to fetch Client ID
// Metadata Documents.
func (s *Server) SetMetadataRootCAs(pool *x509.CertPool) { s.metadataRootCAs.Store(pool) }

// Register adds the OAuth routes to r.
func (s *Server) Register(r *gin.Engine) {
	public := []struct {
		method, path string
		handler      gin.HandlerFunc
	}{
		{http.MethodGet, "/.well-known/oauth-protected-resource/mcp/:capsuleId", s.protectedResourceMetadata},
		{http.MethodGet, "/.well-known/oauth-authorization-server", s.authorizationServerMetadata},
		{http.MethodGet, "/.well-known/openid-configuration", s.authorizationServerMetadata},
		{http.MethodPost, "/oauth/register", s.register},
		{http.MethodPost, "/oauth/token", s.token},
		{http.MethodPost, "/oauth/revoke", s.revoke},
	}
	for _, route := range public {
		r.Handle(route.method, route.path, cors, route.handler)
		r.OPTIONS(route.path, cors)
	}
	r.GET("/oauth/authorize", s.authorize)
	r.POST("/oauth/authorize/decision", s.decide)
}

// cors lets browser-based MCP clients call the public OAuth endpoints. They
// carry no cookies, so any origin may call them.
func cors(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
	h.Set("Access-Control-Max-Age", "86400")
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// issuer is the authorization server's issuer identifier: the public URL.
func (s *Server) issuer() string { return s.Registry.BaseURL }
