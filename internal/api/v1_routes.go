package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

// actorKey is the gin context key of who made an admin API request, as
// recorded in the registry audit.
const actorKey = "capsol.actor"

// registerV1 adds the /v1 admin routes for capsules, shares, enrollments,
// connections, capsule logs and the backup stream.
func (s *Server) registerV1(r *gin.Engine) {
	v1 := r.Group("/v1", s.requireAdmin())

	capsuleID := requireID("id", ids.Capsule)
	v1.GET("/capsules", s.listCapsules)
	v1.POST("/capsules", s.createCapsule)
	v1.GET("/capsules/:id", capsuleID, s.getCapsule)
	v1.PATCH("/capsules/:id", capsuleID, s.updateCapsule)
	v1.DELETE("/capsules/:id", capsuleID, s.deleteCapsule)
	v1.GET("/capsules/:id/logs", capsuleID, s.capsuleLogs)
	v1.POST("/capsules/:id/shares", capsuleID, s.createShare)
	v1.POST("/capsules/:id/enrollments", capsuleID, s.createEnrollment)
	v1.GET("/capsules/:id/enrollments", capsuleID, s.listEnrollments)
	v1.DELETE("/enrollments/:id", requireID("id", ids.Enrollment), s.revokeEnrollment)

	v1.GET("/connections", s.listConnections)
	v1.PATCH("/shares/:connection_id", requireID("connection_id", ids.Connection), s.setShareStatus)
	s.registerBackup(v1)
}

// requireAdmin accepts a request that carries the admin key as a bearer
// token, compared in constant time, and records the admin key as its
// actor. Without an Authorization header it accepts a dashboard session
// cookie instead, within the limits of the session's role and with the
// X-CSRF-Token header on state-changing methods (see requireSession).
// Anything else is 401 invalid_token.
func (s *Server) requireAdmin() gin.HandlerFunc {
	return func(c *gin.Context) {
		token := bearerToken(c.GetHeader("Authorization"))
		if c.GetHeader("Authorization") == "" && s.SignIn != nil && signin.HasSessionCookie(c.Request) {
			s.requireSession(c)
			return
		}
		if token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="capsol admin API"`)
			writeError(c, http.StatusUnauthorized, "invalid_token",
				"admin key missing; send Authorization: Bearer <admin key>, the value of CAPSOL_ADMIN_KEY or of ~/.capsol/admin.key")
			return
		}
		if !s.AdminKey.Verify(token) {
			c.Header("WWW-Authenticate", `Bearer realm="capsol admin API", error="invalid_token"`)
			writeError(c, http.StatusUnauthorized, "invalid_token",
				"admin key does not match; send the current value of CAPSOL_ADMIN_KEY or of ~/.capsol/admin.key on the registry host")
			return
		}
		c.Set(actorKey, registry.ActorAdminKey)
		c.Next()
	}
}

// bearerToken returns the token of an Authorization header value, or "".
func bearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// actorOf returns who made an admin API request.
func actorOf(c *gin.Context) string {
	return c.GetString(actorKey)
}

// clientAddress returns the address of the peer that sent the request.
// X-Forwarded-For is not used, because without a configured list of
// trusted proxies any client could set it.
func clientAddress(c *gin.Context) string {
	return c.RemoteIP()
}

// audit writes one admin API action to the registry audit.
func (s *Server) audit(c *gin.Context, action, target string, details map[string]any) {
	s.Registry.AuditRegistry(auditlog.RegistryRecord{
		Actor:      actorOf(c),
		Action:     action,
		Target:     target,
		Details:    details,
		RemoteAddr: clientAddress(c),
	})
}
