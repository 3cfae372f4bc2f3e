package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// tokenError responds to a token request with an RFC 6749 5.2 error.
func tokenError(c *gin.Context, status int, code, description string) {
	c.Set("error_code", code)
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Basic realm="capsol"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": description})
}

// token handles POST /oauth/token.
func (s *Server) token(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		tokenError(c, http.StatusBadRequest, "invalid_request", "the body is not application/x-www-form-urlencoded: "+err.Error())
		return
	}
	cl, err := s.authenticateClient(c)
	if err != nil {
		tokenError(c, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	switch grantType := c.PostForm("grant_type"); grantType {
	case "authorization_code":
		s.exchangeCode(c, cl)
	case "refresh_token":
		s.refresh(c, cl)
	case "":
		tokenError(c, http.StatusBadRequest, "invalid_request", "grant_type is missing; use authorization_code or refresh_token")
	default:
		tokenError(c, http.StatusBadRequest, "unsupported_grant_type", "grant_type "+quote(grantType)+" is not supported; use authorization_code or refresh_token")
	}
}

func (s *Server) exchangeCode(c *gin.Context, cl *client) {
	code := c.PostForm("code")
	if code == "" {
		tokenError(c, http.StatusBadRequest, "invalid_request", "code is missing")
		return
	}
	record, first := s.codes.take(code)
	if record == nil {
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code is unknown or expired; run the authorization flow again")
		return
	}
	if !first {
		if record.connectionID == "" {
			tokenError(c, http.StatusBadRequest, "invalid_grant", "code was already presented once and its exchange failed; codes are single-use, so run the authorization flow again")
			return
		}
		// A replayed code may be stolen: revoke what its first use issued.
		{
			if _, err := s.Registry.SetShareStatus(record.connectionID, store.StatusRevoked); err != nil {
				s.Logger.Error("cannot revoke the tokens of a replayed code", "connection_id", record.connectionID, "error", err)
			}
		}
		s.Logger.Warn("authorization code replayed; its tokens are revoked", "grant_id", record.grantID, "connection_id", record.connectionID)
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code was already used; the tokens issued with it are revoked")
		return
	}
	now := s.Registry.Now()
	switch {
	case now.After(record.expiresAt):
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code expired; codes are valid for 60 seconds, so run the authorization flow again")
		return
	case record.clientID != cl.ClientID:
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code was issued to another client")
		return
	case c.PostForm("redirect_uri") != "" && c.PostForm("redirect_uri") != record.redirectURI:
		tokenError(c, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the one of the authorization request")
		return
	case c.PostForm("resource") != "" && c.PostForm("resource") != record.resource:
		tokenError(c, http.StatusBadRequest, "invalid_target", "resource "+quote(c.PostForm("resource"))+" is not the resource the code was issued for")
		return
	}
	verifier := c.PostForm("code_verifier")
	if verifier == "" {
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code_verifier is missing; PKCE is required")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(record.codeChallenge)) != 1 {
		tokenError(c, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge (S256)")
		return
	}

	grant, ok := s.Registry.GrantRecord(record.grantID)
	if !ok {
		tokenError(c, http.StatusBadRequest, "invalid_grant", "the grant behind this code no longer exists")
		return
	}
	pair, err := s.Registry.IssueTokens(grant)
	if err != nil {
		s.tokenFailure(c, err)
		return
	}
	s.codes.setConnection(code, pair.ConnectionID)
	s.writeTokens(c, pair)
}

func (s *Server) refresh(c *gin.Context, cl *client) {
	token := c.PostForm("refresh_token")
	if token == "" {
		tokenError(c, http.StatusBadRequest, "invalid_request", "refresh_token is missing")
		return
	}
	pair, err := s.Registry.RefreshTokens(token, cl.PrincipalID)
	if err != nil {
		s.tokenFailure(c, err)
		return
	}
	s.writeTokens(c, pair)
}

func (s *Server) tokenFailure(c *gin.Context, err error) {
	var rejected *registry.Error
	if errors.As(err, &rejected) {
		tokenError(c, http.StatusBadRequest, registry.CodeInvalidGrant, rejected.Message)
		return
	}
	_ = c.Error(err)
	tokenError(c, http.StatusInternalServerError, "server_error", "tokens could not be issued; the daemon log has the details")
}

func (s *Server) writeTokens(c *gin.Context, pair registry.TokenPair) {
	scope := ScopeRead
	if pair.Role == store.RoleWriter {
		scope = ScopeRead + " " + ScopeWrite
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, gin.H{
		"access_token":  pair.AccessToken,
		"token_type":    "Bearer",
		"expires_in":    pair.ExpiresIn,
		"refresh_token": pair.RefreshToken,
		"scope":         scope,
	})
}

// revoke handles POST /oauth/revoke (RFC 7009). Holding a token is enough
// to revoke its family; unknown tokens get 200, as the RFC requires.
func (s *Server) revoke(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		tokenError(c, http.StatusBadRequest, "invalid_request", "the body is not application/x-www-form-urlencoded: "+err.Error())
		return
	}
	token := c.PostForm("token")
	if token == "" {
		tokenError(c, http.StatusBadRequest, "invalid_request", "token is missing; send token=<access or refresh token>")
		return
	}
	if _, err := s.Registry.RevokeToken(token); err != nil {
		_ = c.Error(err)
		tokenError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "the token could not be revoked; try again")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
}
