package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
)

type createEnrollmentRequest struct {
	Role     string `json:"role"`
	Label    string `json:"label"`
	Uses     *int   `json:"uses"`
	TTLHours *int   `json:"ttl_hours"`
}

func (s *Server) createEnrollment(c *gin.Context) {
	var req createEnrollmentRequest
	if !decodeBody(c, &req, false) {
		return
	}
	capsuleID := c.Param("id")
	enrollment, err := s.Registry.CreateEnrollment(capsuleID, registry.EnrollmentRequest{
		Role: req.Role, Label: req.Label, Uses: req.Uses, TTLHours: req.TTLHours,
	})
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "enrollment.create", enrollment.EnrollmentID, map[string]any{
		"capsule_id": capsuleID, "role": req.Role, "label": req.Label, "expires_at": enrollment.ExpiresAt,
	})
	c.JSON(http.StatusCreated, enrollment)
}

func (s *Server) listEnrollments(c *gin.Context) {
	enrollments, err := s.Registry.ListEnrollments(c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"enrollments": enrollments})
}

func (s *Server) revokeEnrollment(c *gin.Context) {
	id := c.Param("id")
	if err := s.Registry.RevokeEnrollment(id); err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "enrollment.revoke", id, nil)
	c.Status(http.StatusNoContent)
}
