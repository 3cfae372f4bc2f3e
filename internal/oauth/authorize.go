package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// codeChallengePattern is the S256 challenge: base64url of a SHA-256, 43
// characters (RFC 7636 4.2).
var codeChallengePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	client        *client
	redirectURI   string
	state         string
	codeChallenge string
	resource      string
	capsuleID     string
	scope         string
	role          string
}

// authorizeError is a failed authorization request. When redirect is set
// the error goes back to the client's redirect_uri, otherwise it is shown
// on a page because the redirect target cannot be trusted.
type authorizeError struct {
	code        string
	description string
	redirect    bool
}

func (e *authorizeError) Error() string { return e.code + ": " + e.description }

// parseAuthorizeRequest validates an authorization request in the order
// that decides where an error may be sent: client and redirect_uri first.
func (s *Server) parseAuthorizeRequest(r *http.Request) (*authorizeRequest, *authorizeError) {
	q := r.URL.Query()
	req := &authorizeRequest{state: q.Get("state")}

	cl, err := s.lookupClient(r.Context(), q.Get("client_id"))
	if err != nil {
		return req, &authorizeError{code: "invalid_client", description: err.Error()}
	}
	req.client = cl
	req.redirectURI = q.Get("redirect_uri")
	if req.redirectURI == "" {
		if len(cl.RedirectURIs) != 1 {
			return req, &authorizeError{code: "invalid_request", description: "redirect_uri is missing and the client registered several; send one of them"}
		}
		req.redirectURI = cl.RedirectURIs[0]
	}
	if !matchRedirectURI(cl.RedirectURIs, req.redirectURI) {
		return req, &authorizeError{code: "invalid_request",
			description: "redirect_uri " + quote(req.redirectURI) + " is not registered for this client; register it or send a registered one"}
	}

	fail := func(code, description string) (*authorizeRequest, *authorizeError) {
		return req, &authorizeError{code: code, description: description, redirect: true}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return fail("unsupported_response_type", "response_type "+quote(rt)+" is not supported; use code")
	}
	switch method := q.Get("code_challenge_method"); {
	case q.Get("code_challenge") == "":
		return fail("invalid_request", "code_challenge is missing; PKCE with S256 is required")
	case method != "S256":
		return fail("invalid_request", "code_challenge_method "+quote(method)+" is not supported; PKCE requires S256")
	case !codeChallengePattern.MatchString(q.Get("code_challenge")):
		return fail("invalid_request", "code_challenge is not a base64url SHA-256 (43 characters)")
	}
	req.codeChallenge = q.Get("code_challenge")

	req.resource = q.Get("resource")
	capsuleID, ok := s.capsuleOfResource(req.resource)
	if !ok {
		return fail("invalid_target", "resource "+quote(req.resource)+" is not the MCP URL of a capsule here; use "+s.Registry.BaseURL+"/mcp/<capsule-id>")
	}
	req.capsuleID = capsuleID

	role, scope, err := roleOfScope(q.Get("scope"))
	if err != nil {
		return fail("invalid_scope", err.Error())
	}
	if !slices.Contains(s.Registry.Store.Policy.Get().AllowedRoles, role) {
		return fail("invalid_scope", "the registry policy does not allow the "+role+" role; request "+ScopeRead+" or ask an operator to change allowed_roles")
	}
	req.role, req.scope = role, scope
	return req, nil
}

// capsuleOfResource returns the capsule whose MCP URL is resource.
func (s *Server) capsuleOfResource(resource string) (string, bool) {
	prefix := s.Registry.BaseURL + "/mcp/"
	id, ok := strings.CutPrefix(strings.TrimSuffix(resource, "/"), prefix)
	if !ok || !ids.Valid(ids.Capsule, id) {
		return "", false
	}
	_, exists := s.Registry.Capsule(id)
	return id, exists
}

// roleOfScope maps requested scopes to a role: capsule:write is writer,
// anything else reader. offline_access is accepted and ignored, because
// every access token comes with a refresh token.
func roleOfScope(scope string) (role, granted string, err error) {
	role = store.RoleReader
	for _, s := range strings.Fields(scope) {
		switch s {
		case ScopeWrite:
			role = store.RoleWriter
		case ScopeRead, "offline_access":
		default:
			return "", "", errors.New("scope " + quote(s) + " is not supported; request capsule:read or capsule:write")
		}
	}
	if role == store.RoleWriter {
		return role, ScopeRead + " " + ScopeWrite, nil
	}
	return role, ScopeRead, nil
}

// authorize handles GET /oauth/authorize. Without an approver signed in it
// records a pending grant and responds with a page that waits. Once the
// grant is approved, the same request gets the redirect with a code.
func (s *Server) authorize(c *gin.Context) {
	req, aerr := s.parseAuthorizeRequest(c.Request)
	if aerr != nil {
		s.authorizeFailed(c, req, aerr)
		return
	}

	// The PKCE challenge is part of the request's identity, so a repeated
	// request finds its grant while a request that reuses the state with
	// another challenge cannot collect the code that was approved for it.
	requestState := req.state + "\x00" + req.codeChallenge
	grant, err := s.Registry.RequestGrant(registry.PendingGrantRequest{
		CapsuleID: req.capsuleID, PrincipalID: req.client.PrincipalID, ClientID: req.client.ClientID,
		ClientName: req.client.Name, Role: req.role, State: requestState, RedirectURI: req.redirectURI, Scope: req.scope,
	})
	var rejected *registry.Error
	if errors.As(err, &rejected) && rejected.Code == registry.CodeRateLimited {
		c.Header("Retry-After", "60")
		s.renderPage(c, http.StatusTooManyRequests, "error", pageData{Title: "Too many pending requests", Message: rejected.Message})
		return
	}
	if err != nil {
		_ = c.Error(err)
		s.renderPage(c, http.StatusInternalServerError, "error", pageData{Title: "Server error", Message: "The request could not be recorded; the daemon log has the details."})
		return
	}

	switch grant.Status {
	case store.StatusRevoked:
		s.redirectError(c, req, "access_denied", "an operator denied or revoked this request")
		return
	case store.StatusApproved:
		s.issueCode(c, req, grant)
		return
	}

	data := s.pageDataFor(req, grant)
	if actor, ok := s.Approver(c.Request); ok {
		data.Approver = actor
		data.CSRF = s.decisionToken(c.Request, grant.ID)
		data.Request = c.Request.URL.RawQuery
		s.renderPage(c, http.StatusOK, "consent", data)
		return
	}
	c.Header("Refresh", "3")
	s.renderPage(c, http.StatusOK, "waiting", data)
}

// issueCode responds to an approved request with the redirect that carries the
// code. A code is issued once per grant.
func (s *Server) issueCode(c *gin.Context, req *authorizeRequest, grant store.Grant) {
	first, err := s.Registry.MarkCodeIssued(grant.ID)
	if err != nil {
		_ = c.Error(err)
		s.renderPage(c, http.StatusInternalServerError, "error", pageData{Title: "Server error", Message: "The code could not be issued; the daemon log has the details."})
		return
	}
	if !first {
		s.redirectError(c, req, "invalid_request", "this authorization request was already completed; start a new one with a new state")
		return
	}
	now := s.Registry.Now()
	code := s.codes.issue(authCode{
		grantID: grant.ID, clientID: req.client.ClientID, redirectURI: req.redirectURI,
		codeChallenge: req.codeChallenge, resource: req.resource, expiresAt: now.Add(codeTTL),
	}, now)
	s.Logger.Info("authorization code issued", "grant_id", grant.ID, "capsule_id", grant.CapsuleID, "principal_id", grant.PrincipalID)
	s.redirect(c, req, url.Values{"code": {code}})
}

func (s *Server) authorizeFailed(c *gin.Context, req *authorizeRequest, aerr *authorizeError) {
	c.Set("error_code", aerr.code)
	if aerr.redirect {
		s.redirectError(c, req, aerr.code, aerr.description)
		return
	}
	s.renderPage(c, http.StatusBadRequest, "error", pageData{Title: "Invalid authorization request", Message: aerr.Error()})
}

func (s *Server) redirectError(c *gin.Context, req *authorizeRequest, code, description string) {
	c.Set("error_code", code)
	s.redirect(c, req, url.Values{"error": {code}, "error_description": {description}})
}

// redirect sends the browser to the client's redirect_uri with params,
// state and iss (RFC 9207).
func (s *Server) redirect(c *gin.Context, req *authorizeRequest, params url.Values) {
	target, err := url.Parse(req.redirectURI)
	if err != nil {
		s.renderPage(c, http.StatusBadRequest, "error", pageData{Title: "Invalid redirect_uri", Message: err.Error()})
		return
	}
	q := target.Query()
	for k, v := range params {
		q[k] = v
	}
	if req.state != "" {
		q.Set("state", req.state)
	}
	q.Set("iss", s.issuer())
	target.RawQuery = q.Encode()
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, target.String())
}

// decide handles the approve and deny buttons of the consent page.
func (s *Server) decide(c *gin.Context) {
	actor, ok := s.Approver(c.Request)
	if !ok {
		s.renderPage(c, http.StatusForbidden, "error", pageData{Title: "Sign-in required", Message: "Only a signed-in approver or admin can approve requests; sign in at /dashboard."})
		return
	}
	grantID := c.PostForm("grant_id")
	if !ids.Valid(ids.Grant, grantID) || !hmac.Equal([]byte(c.PostForm("csrf_token")), []byte(s.decisionToken(c.Request, grantID))) {
		c.Set("error_code", "csrf_failed")
		s.renderPage(c, http.StatusForbidden, "error", pageData{Title: "Request rejected", Message: "The form token is missing or wrong (csrf_failed); reload the authorization page and try again."})
		return
	}
	var err error
	switch c.PostForm("decision") {
	case "approve":
		_, err = s.Registry.ApproveGrant(grantID, actor)
	case "deny":
		_, err = s.Registry.RevokeGrant(grantID, actor)
	default:
		s.renderPage(c, http.StatusBadRequest, "error", pageData{Title: "Invalid decision", Message: "decision must be approve or deny."})
		return
	}
	if err != nil {
		s.renderPage(c, http.StatusConflict, "error", pageData{Title: "Decision not recorded", Message: err.Error()})
		return
	}
	c.Redirect(http.StatusSeeOther, "/oauth/authorize?"+c.PostForm("request"))
}

// decisionToken binds the consent form to the approver's session and the
// grant, so another site cannot submit it.
func (s *Server) decisionToken(r *http.Request, grantID string) string {
	session := ""
	if cookie, err := r.Cookie(SessionCookie); err == nil {
		session = cookie.Value
	}
	mac := hmac.New(sha256.New, s.SecretKey.Material)
	mac.Write([]byte("oauth-decision\x00" + session + "\x00" + grantID))
	return hex.EncodeToString(mac.Sum(nil))
}

// SessionCookie is the dashboard session cookie.
const SessionCookie = "capsol_session"

// breakGlassApprover accepts the dashboard session of the admin key, whose
// cookie value is the SHA-256 of the key.
func (s *Server) breakGlassApprover(r *http.Request) (string, bool) {
	cookie, err := r.Cookie(SessionCookie)
	if err != nil || s.AdminKey == nil {
		return "", false
	}
	if hmac.Equal([]byte(cookie.Value), []byte(s.AdminKey.SessionValue())) {
		return registry.ActorAdminKey, true
	}
	return "", false
}
