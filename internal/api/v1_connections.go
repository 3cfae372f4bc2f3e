package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

type createShareRequest struct {
	Label string `json:"label"`
	Role  string `json:"role"`
}

type setShareStatusRequest struct {
	Status string `json:"status"`
}

// statusActions names the registry audit action of each connection status.
var statusActions = map[string]string{
	store.StatusActive:  "connection.resume",
	store.StatusPaused:  "connection.pause",
	store.StatusRevoked: "connection.revoke",
}

func (s *Server) createShare(c *gin.Context) {
	var req createShareRequest
	if !decodeBody(c, &req, false) {
		return
	}
	capsuleID := c.Param("id")
	share, err := s.Registry.CreateShare(capsuleID, req.Label, req.Role)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "share.create", share.ConnectionID,
		map[string]any{"capsule_id": capsuleID, "label": share.Label, "role": share.Role})
	c.JSON(http.StatusCreated, share)
}

func (s *Server) listConnections(c *gin.Context) {
	capsuleID, ok := queryID(c, "capsule_id", ids.Capsule)
	if !ok {
		return
	}
	connections, err := s.Registry.ListConnections(registry.ConnectionFilter{
		CapsuleID: capsuleID, Status: c.Query("status"), Label: c.Query("label"),
	})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"connections": connections})
}

func (s *Server) setShareStatus(c *gin.Context) {
	var req setShareStatusRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if req.Status == "" {
		writeError(c, http.StatusBadRequest, "invalid_request",
			`status is missing; send {"status": "active"}, {"status": "paused"} or {"status": "revoked"}`)
		return
	}
	connection, err := s.Registry.SetShareStatus(c.Param("connection_id"), req.Status)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, statusActions[req.Status], connection.ConnectionID, map[string]any{"capsule_id": connection.CapsuleID})
	c.JSON(http.StatusOK, connection)
}
