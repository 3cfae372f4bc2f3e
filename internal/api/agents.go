package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
)

// Rate limits of the agent-facing endpoints per client address: requests
// per minute and burst.
const (
	EnrollPerMinute           = 30
	EnrollBurst               = 10
	AnonymousCapsulePerMinute = 10
	AnonymousCapsuleBurst     = 5
)

type enrollRequest struct {
	Token string `json:"token"`
	Label string `json:"label"`
}

type anonymousCapsuleRequest struct {
	Name string `json:"name"`
}

// registerAgentRoutes adds the endpoints that agents call without the admin
// key: redeeming an enrollment token and creating an anonymous capsule.
func (s *Server) registerAgentRoutes(r *gin.Engine) {
	enrollLimit := newClientLimiter(EnrollPerMinute, EnrollBurst)
	anonymousLimit := newClientLimiter(AnonymousCapsulePerMinute, AnonymousCapsuleBurst)

	r.POST("/enroll", rateLimit(enrollLimit, "enrollment requests"), s.enroll)
	r.POST("/anonymous/capsules", rateLimit(anonymousLimit, "anonymous capsule requests"), s.createAnonymousCapsule)
}

func (s *Server) enroll(c *gin.Context) {
	var req enrollRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if req.Token == "" {
		writeError(c, http.StatusBadRequest, "invalid_request",
			`token is missing; send {"token": "capsol_enroll_…", "label": "<name of this agent>"}`)
		return
	}
	enrolled, err := s.Registry.Enroll(req.Token, req.Label)
	var rejected *registry.Error
	if errors.As(err, &rejected) && rejected.Code == registry.CodeInvalidToken {
		s.Metrics.AuthFailures.WithLabelValues(registry.CodeInvalidToken).Inc()
		refuseToken(c, rejected.Message)
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	s.Logger.Info("agent enrolled", "capsule_id", enrolled.CapsuleID, "connection_id", enrolled.ConnectionID,
		"remote_addr", clientAddress(c))
	c.JSON(http.StatusCreated, enrolled)
}

// refuseToken sends 401 invalid_token the way agents expect every refusal:
// with error_description and a WWW-Authenticate challenge.
func refuseToken(c *gin.Context, description string) {
	quoted := strings.ReplaceAll("invalid_token: "+description, `"`, `'`)
	c.Header("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+quoted+`"`)
	c.Set("error_code", registry.CodeInvalidToken)
	c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{
		"error":             description,
		"error_code":        registry.CodeInvalidToken,
		"error_description": description,
	})
}

func (s *Server) createAnonymousCapsule(c *gin.Context) {
	var req anonymousCapsuleRequest
	if !decodeBody(c, &req, true) {
		return
	}
	capsule, err := s.Registry.CreateAnonymousCapsule(req.Name)
	if err != nil {
		fail(c, err)
		return
	}
	s.Logger.Info("anonymous capsule created", "capsule_id", capsule.CapsuleID, "expires_at", capsule.ExpiresAt,
		"remote_addr", clientAddress(c))
	c.JSON(http.StatusCreated, capsule)
}
