package oauth

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
)

// protectedResourceMetadata serves RFC 9728 metadata of a capsule's MCP
// endpoint.
func (s *Server) protectedResourceMetadata(c *gin.Context) {
	id := c.Param("capsuleId")
	if !ids.Valid(ids.Capsule, id) {
		jsonError(c, http.StatusNotFound, "not_found", "no capsule "+quote(id)+"; the path is /.well-known/oauth-protected-resource/mcp/<capsule-id>")
		return
	}
	if _, ok := s.Registry.Capsule(id); !ok {
		jsonError(c, http.StatusNotFound, "not_found", "capsule "+id+" not found")
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"resource":                 s.Registry.MCPURL(id),
		"authorization_servers":    []string{s.issuer()},
		"scopes_supported":         []string{ScopeRead, ScopeWrite},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "capsol capsule " + id,
	})
}

// authorizationServerMetadata serves RFC 8414 metadata.
func (s *Server) authorizationServerMetadata(c *gin.Context) {
	base := s.issuer()
	c.JSON(http.StatusOK, gin.H{
		"issuer":                                         base,
		"authorization_endpoint":                         base + "/oauth/authorize",
		"token_endpoint":                                 base + "/oauth/token",
		"registration_endpoint":                          base + "/oauth/register",
		"revocation_endpoint":                            base + "/oauth/revoke",
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none", "client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":     []string{"none", "client_secret_basic", "client_secret_post"},
		"scopes_supported":                               []string{ScopeRead, ScopeWrite},
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
	})
}

func jsonError(c *gin.Context, status int, code, message string) {
	c.Set("error_code", code)
	c.AbortWithStatusJSON(status, gin.H{"error": message, "error_code": code})
}
