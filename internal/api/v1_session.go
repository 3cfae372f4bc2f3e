package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

// approverRoutes are the state-changing /v1 routes that an approver may
// call: deciding on grants and pausing, resuming or revoking connections.
// Every other state-changing route needs an admin.
var approverRoutes = map[string]bool{
	"POST /v1/grants/:id/approve":     true,
	"POST /v1/grants/:id/revoke":      true,
	"PATCH /v1/shares/:connection_id": true,
}

// adminReadRoutes are the read-only /v1 routes that still need an admin:
// the backup holds every credential hash and all capsule content.
var adminReadRoutes = map[string]bool{
	"GET /v1/backup": true,
}

// requiredRole returns the operator role that a /v1 route needs.
func requiredRole(method, route string) string {
	key := method + " " + route
	switch {
	case adminReadRoutes[key]:
		return registry.OperatorAdmin
	case !stateChanging(method):
		return registry.OperatorViewer
	case approverRoutes[key]:
		return registry.OperatorApprover
	}
	return registry.OperatorAdmin
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// requireSession authenticates a /v1 request by its dashboard session
// cookie. A state-changing request must carry the session's CSRF token in
// the X-CSRF-Token header (403 csrf_failed), and the session's role must
// allow the route (403 forbidden). The actor is the operator id, or
// "admin-key" for a break-glass session.
func (s *Server) requireSession(c *gin.Context) {
	session, ok := s.SignIn.Identify(c.Request)
	if !ok {
		writeError(c, http.StatusUnauthorized, "invalid_token",
			"dashboard session ended (signed out, expired, disabled operator or rotated admin key); sign in again at /dashboard/login")
		return
	}
	if stateChanging(c.Request.Method) && !signin.CheckCSRF(session, c.GetHeader(signin.CSRFHeader)) {
		writeError(c, http.StatusForbidden, "csrf_failed",
			"the X-CSRF-Token header is missing or wrong; send the CSRF token of this dashboard session with every state-changing request")
		return
	}
	if need := requiredRole(c.Request.Method, c.FullPath()); !registry.RoleAllows(session.Role, need) {
		writeError(c, http.StatusForbidden, "forbidden",
			"role "+session.Role+" may not call "+c.Request.Method+" "+c.FullPath()+"; it needs the "+need+" role, which an admin can grant with PATCH /v1/operators/:id")
		return
	}
	c.Set(actorKey, session.Actor)
	c.Set(sessionKey, session)
	c.Next()
}

// sessionKey is the gin context key of the dashboard session that
// authenticated a request, absent for admin-key requests.
const sessionKey = "capsol.session"

// sessionOf returns the dashboard session of a request, if a session and
// not the admin key authenticated it.
func sessionOf(c *gin.Context) (registry.Session, bool) {
	v, ok := c.Get(sessionKey)
	if !ok {
		return registry.Session{}, false
	}
	session, ok := v.(registry.Session)
	return session, ok
}
