package registry

import (
	"errors"
	"slices"
	"time"

	"github.com/capsol/capsol/internal/store"
)

// Connection is a share or an OAuth credential family as operators see it
// in GET /v1/connections.
type Connection struct {
	ConnectionID string     `json:"connection_id"`
	Label        string     `json:"label"`
	Role         string     `json:"role"`
	CapsuleID    string     `json:"capsule_id"`
	PrincipalID  string     `json:"principal_id"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
}

// ConnectionFilter selects connections. Empty fields select everything.
type ConnectionFilter struct {
	CapsuleID string
	Status    string
	Label     string
}

var connectionStatuses = []string{store.StatusActive, store.StatusPaused, store.StatusRevoked}

// ListConnections returns the connections that match f, oldest first.
// last_used_at includes uses that are not yet written to shares.json.
func (r *Registry) ListConnections(f ConnectionFilter) ([]Connection, error) {
	if f.Status != "" {
		if err := checkStatus(f.Status); err != nil {
			return nil, err
		}
	}
	pending := r.ops().usage.pendingTimes()
	list := []Connection{}
	for _, sh := range r.Store.Shares.Get().Shares {
		if (f.CapsuleID != "" && sh.CapsuleID != f.CapsuleID) ||
			(f.Status != "" && sh.Status != f.Status) ||
			(f.Label != "" && sh.Label != f.Label) {
			continue
		}
		c := connectionOf(sh)
		if used, ok := pending[sh.ConnectionID]; ok && (c.LastUsedAt == nil || used.After(*c.LastUsedAt)) {
			c.LastUsedAt = &used
		}
		list = append(list, c)
	}
	return list, nil
}

// SetShareStatus pauses, resumes or revokes a connection. Revoking also
// revokes the connection's credentials and is final: any later change away
// from revoked is a conflict. Setting the current status again changes
// nothing. Each change runs ConnectionChanged, so that open MCP streams of
// the connection close.
func (r *Registry) SetShareStatus(connectionID, status string) (Connection, error) {
	if err := checkStatus(status); err != nil {
		return Connection{}, err
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	now := r.Now()
	var updated store.Share
	changed := false
	err := r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		for i := range doc.Shares {
			sh := &doc.Shares[i]
			if sh.ConnectionID != connectionID {
				continue
			}
			updated = *sh
			switch {
			case sh.Status == status:
				// The status is already set, so the Update ends without a write.
				return errUnchanged
			case sh.Status == store.StatusRevoked:
				return newError(CodeConflict,
					"connection %s is revoked, and revocation is final; create a new share or enrollment for the agent", connectionID)
			}
			sh.Status = status
			if status == store.StatusRevoked {
				sh.RevokedAt = &now
			}
			updated = *sh
			changed = true
			return nil
		}
		return newError(CodeNotFound, "connection %s not found; list connections with GET /v1/connections", connectionID)
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return Connection{}, err
	}
	if !changed {
		return r.withPendingUse(connectionOf(updated)), nil
	}

	if status == store.StatusRevoked {
		if err := r.revokeCredentials(connectionID, now); err != nil {
			// The revoked share alone already makes agents' requests fail.
			r.Logger.Error("cannot mark the credentials of a revoked connection revoked", "connection_id", connectionID, "error", err)
		}
	}
	r.ConnectionChanged(connectionID)
	r.Logger.Info("connection status changed", "connection_id", connectionID, "capsule_id", updated.CapsuleID, "status", status)
	return r.withPendingUse(connectionOf(updated)), nil
}

// withPendingUse sets the last use not yet written to shares.json, as
// ListConnections does.
func (r *Registry) withPendingUse(c Connection) Connection {
	if used, ok := r.ops().usage.pendingTimes()[c.ConnectionID]; ok && (c.LastUsedAt == nil || used.After(*c.LastUsedAt)) {
		c.LastUsedAt = &used
	}
	return c
}

// revokeCredentials marks every credential of a connection revoked, so that
// the janitor prunes them a day later.
func (r *Registry) revokeCredentials(connectionID string, now time.Time) error {
	return r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		for i := range doc.Credentials {
			c := &doc.Credentials[i]
			if c.ConnectionID != nil && *c.ConnectionID == connectionID && c.RevokedAt == nil {
				c.RevokedAt = &now
			}
		}
		return nil
	})
}

func checkStatus(status string) error {
	if slices.Contains(connectionStatuses, status) {
		return nil
	}
	return newError(CodeInvalidRequest, "status %q is invalid; use %q, %q or %q",
		status, store.StatusActive, store.StatusPaused, store.StatusRevoked)
}

func connectionOf(sh store.Share) Connection {
	return Connection{
		ConnectionID: sh.ConnectionID,
		Label:        sh.Label,
		Role:         sh.Role,
		CapsuleID:    sh.CapsuleID,
		PrincipalID:  sh.PrincipalID,
		Kind:         sh.Kind,
		Status:       sh.Status,
		CreatedAt:    sh.CreatedAt,
		LastUsedAt:   sh.LastUsedAt,
		ExpiresAt:    sh.ExpiresAt,
	}
}
