package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
)

// registerGrants adds the /v1 routes for OAuth grants and the policy.
func (s *Server) registerGrants(r *gin.Engine) {
	v1 := r.Group("/v1", s.requireAdmin())
	grantID := requireID("id", ids.Grant)
	v1.GET("/grants", s.listGrants)
	v1.POST("/grants/:id/approve", grantID, s.approveGrant)
	v1.POST("/grants/:id/revoke", grantID, s.revokeGrant)
	v1.GET("/policy", s.getPolicy)
	v1.PUT("/policy", s.putPolicy)
}

func (s *Server) listGrants(c *gin.Context) {
	grants, err := s.Registry.ListGrants(registry.GrantFilter{Status: c.Query("status"), CapsuleID: c.Query("capsule_id")})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"grants": grants})
}

func (s *Server) approveGrant(c *gin.Context) {
	grant, err := s.Registry.ApproveGrant(c.Param("id"), actorOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "grant.approve", grant.ID, map[string]any{"capsule_id": grant.CapsuleID, "role": grant.Role})
	c.JSON(http.StatusOK, grant)
}

func (s *Server) revokeGrant(c *gin.Context) {
	grant, err := s.Registry.RevokeGrant(c.Param("id"), actorOf(c))
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "grant.revoke", grant.ID, map[string]any{"capsule_id": grant.CapsuleID})
	c.JSON(http.StatusOK, grant)
}

func (s *Server) getPolicy(c *gin.Context) {
	c.JSON(http.StatusOK, s.Registry.Policy())
}

// putPolicy replaces the policy. Fields missing from the body keep their
// current values, so a script can send only what it changes.
func (s *Server) putPolicy(c *gin.Context) {
	policy := s.Registry.Policy()
	policy.AllowedRoles = append([]string(nil), policy.AllowedRoles...)
	if !decodeBody(c, &policy, false) {
		return
	}
	updated, err := s.Registry.SetPolicy(policy)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "policy.update", "", map[string]any{"policy": updated})
	c.JSON(http.StatusOK, updated)
}
