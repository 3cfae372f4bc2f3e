package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

type createOperatorRequest struct {
	Email string `json:"email"`
	Role  string `json:"role"`
}

type updateOperatorRequest struct {
	Role   *string `json:"role"`
	Status *string `json:"status"`
}

// registerOperators adds the /v1 routes for operators, invites, settings
// and the registry audit.
func (s *Server) registerOperators(r *gin.Engine) {
	v1 := r.Group("/v1", s.requireAdmin())
	v1.GET("/operators", s.listOperators)
	v1.POST("/operators", s.createOperator)
	v1.PATCH("/operators/:id", requireID("id", ids.Operator), s.updateOperator)
	v1.GET("/operators/invites", s.listInvites)
	v1.POST("/operators/invites", s.createInvite)
	v1.DELETE("/operators/invites/:id", requireID("id", ids.Invite), s.revokeInvite)

	v1.GET("/settings", s.getSettings)
	v1.PATCH("/settings", s.updateSettings)
	v1.GET("/audit", s.registryAudit)
}

func (s *Server) listOperators(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"operators": s.Registry.ListOperators()})
}

func (s *Server) createOperator(c *gin.Context) {
	var req createOperatorRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if req.Role == "" {
		writeError(c, http.StatusBadRequest, "invalid_request", `role is missing; send "admin", "approver" or "viewer"`)
		return
	}
	op, err := s.Registry.CreateOperator(req.Email, req.Role)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "operator.create", op.ID, map[string]any{"email": op.Email, "role": op.Role})
	c.JSON(http.StatusCreated, op)
}

// updateOperator changes an operator's role, which applies on their next
// sign-in, or status; disabling ends their sessions at once. An operator
// cannot disable their own account, so a registry always keeps someone who
// can undo it.
func (s *Server) updateOperator(c *gin.Context) {
	var req updateOperatorRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if req.Role == nil && req.Status == nil {
		writeError(c, http.StatusBadRequest, "invalid_request",
			`send at least one of role ("admin", "approver", "viewer") and status ("active", "disabled")`)
		return
	}
	id := c.Param("id")
	if session, ok := sessionOf(c); ok && session.OperatorID == id && req.Status != nil && *req.Status == registry.OperatorDisabled {
		writeError(c, http.StatusConflict, "conflict",
			"you cannot disable your own operator account; ask another admin, or use the admin key")
		return
	}
	op, err := s.Registry.UpdateOperator(id, registry.OperatorUpdate{Role: req.Role, Status: req.Status})
	if err != nil {
		fail(c, err)
		return
	}
	details := map[string]any{}
	if req.Role != nil {
		details["role"] = op.Role
	}
	if req.Status != nil {
		details["status"] = op.Status
	}
	s.audit(c, "operator.update", op.ID, details)
	c.JSON(http.StatusOK, op)
}

func (s *Server) listInvites(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"invites": s.Registry.ListInvites()})
}

// createInvite creates a single-use invite link and emails it when
// smtp_url is set. Without a sign-in service (tests that serve only the
// API) the link is returned for manual delivery.
func (s *Server) createInvite(c *gin.Context) {
	var req createOperatorRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if req.Role == "" {
		writeError(c, http.StatusBadRequest, "invalid_request", `role is missing; send "admin", "approver" or "viewer"`)
		return
	}

	var result signin.InviteResult
	var err error
	if s.SignIn != nil {
		result, err = s.SignIn.Invite(c.Request.Context(), req.Email, req.Role, actorOf(c))
	} else {
		result.NewInvite, err = s.Registry.CreateInvite(req.Email, req.Role, actorOf(c))
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "operator.invite", result.InviteID, map[string]any{
		"email": result.Email, "role": result.Role, "emailed": result.Emailed, "expires_at": result.ExpiresAt,
	})
	c.JSON(http.StatusCreated, result)
}

func (s *Server) revokeInvite(c *gin.Context) {
	invite, err := s.Registry.RevokeInvite(c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "invite.revoke", invite.InviteID, map[string]any{"email": invite.Email})
	c.Status(http.StatusNoContent)
}
