package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
)

type createCapsuleRequest struct {
	Name    string `json:"name"`
	OwnerID string `json:"owner_id"`
}

type updateCapsuleRequest struct {
	Name           *string        `json:"name"`
	OwnerID        optionalString `json:"owner_id"`
	ClaimOwnership bool           `json:"claim_ownership"`
}

func (s *Server) listCapsules(c *gin.Context) {
	owner, ok := queryID(c, "owner", ids.Operator)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, gin.H{"capsules": s.Registry.ListCapsules(owner, c.Query("q"))})
}

func (s *Server) createCapsule(c *gin.Context) {
	var req createCapsuleRequest
	if !decodeBody(c, &req, false) {
		return
	}
	capsule, err := s.Registry.CreateCapsule(req.Name, req.OwnerID, false, 0)
	if err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "capsule.create", capsule.ID, map[string]any{"name": capsule.Name, "owner_id": capsule.OwnerID})
	c.JSON(http.StatusCreated, capsule)
}

func (s *Server) getCapsule(c *gin.Context) {
	capsule, err := s.Registry.GetCapsule(c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, capsule)
}

// updateCapsule renames a capsule and changes its owner. claim_ownership
// makes the calling operator the owner. The admin key is no operator, so
// an admin-key claim_ownership must name the operator who claims the
// capsule in owner_id.
func (s *Server) updateCapsule(c *gin.Context) {
	var req updateCapsuleRequest
	if !decodeBody(c, &req, false) {
		return
	}
	if session, ok := sessionOf(c); ok && req.ClaimOwnership && session.OperatorID != "" {
		if req.OwnerID.Set && (req.OwnerID.Value == nil || *req.OwnerID.Value != session.OperatorID) {
			writeError(c, http.StatusBadRequest, "invalid_request",
				"claim_ownership makes you the owner; leave out owner_id, or send owner_id without claim_ownership to assign another operator")
			return
		}
		req.OwnerID = optionalString{Set: true, Value: &session.OperatorID}
	}
	if req.ClaimOwnership && (!req.OwnerID.Set || req.OwnerID.Value == nil) {
		writeError(c, http.StatusBadRequest, "invalid_request",
			"claim_ownership with the admin key needs owner_id: name the operator (op_…) who claims the capsule")
		return
	}

	update := registry.CapsuleUpdate{Name: req.Name, SetOwner: req.OwnerID.Set}
	if req.OwnerID.Value != nil {
		update.OwnerID = *req.OwnerID.Value
		if update.OwnerID == "" {
			writeError(c, http.StatusBadRequest, "invalid_request",
				`owner_id is an empty string; send an operator id (op_…), or null to make the capsule unowned`)
			return
		}
	}
	capsule, err := s.Registry.UpdateCapsule(c.Param("id"), update)
	if err != nil {
		fail(c, err)
		return
	}

	details := map[string]any{}
	if req.Name != nil {
		details["name"] = capsule.Name
	}
	if req.OwnerID.Set {
		details["owner_id"] = capsule.OwnerID
	}
	if req.ClaimOwnership {
		details["claim_ownership"] = true
	}
	s.audit(c, "capsule.update", capsule.ID, details)
	c.JSON(http.StatusOK, capsule)
}

func (s *Server) deleteCapsule(c *gin.Context) {
	id := c.Param("id")
	if err := s.Registry.DeleteCapsule(id, actorOf(c)); err != nil {
		fail(c, err)
		return
	}
	s.audit(c, "capsule.delete", id, nil)
	c.Status(http.StatusNoContent)
}
