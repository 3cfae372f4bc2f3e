package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

// Grant is an approval as operators see it in GET /v1/grants.
type Grant struct {
	ID          string     `json:"id"`
	CapsuleID   string     `json:"capsule_id"`
	PrincipalID string     `json:"principal_id"`
	ClientName  string     `json:"client_name"`
	Role        string     `json:"role"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  *string    `json:"approved_by"`
	RevokedBy   *string    `json:"revoked_by"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// GrantFilter selects grants. Empty fields select everything.
type GrantFilter struct {
	Status    string
	CapsuleID string
}

// ActorPolicy is the revoked_by of grants that the janitor revoked by policy.
const ActorPolicy = "policy"

var grantStatuses = []string{store.StatusPending, store.StatusApproved, store.StatusRevoked}

func grantOf(g store.Grant) Grant {
	return Grant{
		ID: g.ID, CapsuleID: g.CapsuleID, PrincipalID: g.PrincipalID, ClientName: g.ClientName, Role: g.Role,
		Status: g.Status, RequestedAt: g.RequestedAt, ApprovedBy: g.ApprovedBy, RevokedBy: g.RevokedBy, RevokedAt: g.RevokedAt,
	}
}

// ListGrants returns the grants that match f, oldest first.
func (r *Registry) ListGrants(f GrantFilter) ([]Grant, error) {
	if f.Status != "" && !slices.Contains(grantStatuses, f.Status) {
		return nil, newError(CodeInvalidRequest, "status %q is not a grant status; use pending, approved or revoked", f.Status)
	}
	if f.CapsuleID != "" && !ids.Valid(ids.Capsule, f.CapsuleID) {
		return nil, newError(CodeInvalidRequest, "capsule_id %q is not a capsule id (cap_ and 26 characters)", f.CapsuleID)
	}
	list := []Grant{}
	for _, g := range r.Store.Grants.Get().Grants {
		if (f.Status != "" && g.Status != f.Status) || (f.CapsuleID != "" && g.CapsuleID != f.CapsuleID) {
			continue
		}
		list = append(list, grantOf(g))
	}
	return list, nil
}

// GrantRecord returns the stored grant with id.
func (r *Registry) GrantRecord(id string) (store.Grant, bool) {
	for _, g := range r.Store.Grants.Get().Grants {
		if g.ID == id {
			return g, true
		}
	}
	return store.Grant{}, false
}

// ApproveGrant approves a pending grant. Approving an approved grant
// changes nothing; a revoked grant cannot be approved again.
func (r *Registry) ApproveGrant(id, actor string) (Grant, error) {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	now := r.Now()
	var updated store.Grant
	err := r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		for i := range doc.Grants {
			g := &doc.Grants[i]
			if g.ID != id {
				continue
			}
			switch g.Status {
			case store.StatusApproved:
				updated = *g
				return errUnchanged
			case store.StatusRevoked:
				return newError(CodeConflict, "grant %s is revoked and cannot be approved; the client must send a new authorization request", id)
			}
			g.Status = store.StatusApproved
			g.ApprovedBy = &actor
			g.ApprovedAt = &now
			updated = *g
			return nil
		}
		return newError(CodeNotFound, "grant %s not found; list grants with GET /v1/grants", id)
	})
	if err = ignoreUnchanged(err); err != nil {
		return Grant{}, err
	}
	r.Logger.Info("grant approved", "grant_id", id, "capsule_id", updated.CapsuleID, "principal_id", updated.PrincipalID, "actor", actor)
	return grantOf(updated), nil
}

// RevokeGrant revokes a pending or approved grant: a pending one is denied,
// and every credential issued under an approved one is refused with
// grant_revoked from the next request on.
func (r *Registry) RevokeGrant(id, actor string) (Grant, error) {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()
	return r.revokeGrants(map[string]bool{id: true}, actor, true)
}

// revokeGrants revokes the grants in set. With one grant and strict set, a
// missing grant is not_found. The caller holds ops.mutations.
func (r *Registry) revokeGrants(set map[string]bool, actor string, strict bool) (Grant, error) {
	now := r.Now()
	var last store.Grant
	found := false
	err := r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		changed := false
		for i := range doc.Grants {
			g := &doc.Grants[i]
			if !set[g.ID] {
				continue
			}
			found = true
			last = *g
			if g.Status == store.StatusRevoked {
				continue
			}
			g.Status = store.StatusRevoked
			g.RevokedBy = &actor
			g.RevokedAt = &now
			last = *g
			changed = true
		}
		if !found && strict {
			for id := range set {
				return newError(CodeNotFound, "grant %s not found; list grants with GET /v1/grants", id)
			}
		}
		if !changed {
			return errUnchanged
		}
		return nil
	})
	if err = ignoreUnchanged(err); err != nil {
		return Grant{}, err
	}
	for _, sh := range r.Store.Shares.Get().Shares {
		if sh.GrantID != nil && set[*sh.GrantID] {
			r.ConnectionChanged(sh.ConnectionID)
		}
	}
	for id := range set {
		r.Logger.Info("grant revoked", "grant_id", id, "actor", actor)
	}
	return grantOf(last), nil
}

// PendingGrantRequest is an OAuth authorization request that needs an
// approval.
type PendingGrantRequest struct {
	CapsuleID   string
	PrincipalID string
	ClientID    string
	ClientName  string
	Role        string
	State       string
	RedirectURI string
	Scope       string
}

// GrantRequestKey identifies an authorization request by client, capsule
// and state, so a repeated request finds its grant.
func GrantRequestKey(clientID, capsuleID, state string) string {
	sum := sha256.Sum256([]byte(clientID + "\x00" + capsuleID + "\x00" + state))
	return hex.EncodeToString(sum[:])
}

// RequestGrant returns the grant of an authorization request, creating a
// pending one on the first request. More pending grants on one capsule
// than the policy allows are rate_limited.
func (r *Registry) RequestGrant(req PendingGrantRequest) (store.Grant, error) {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	key := GrantRequestKey(req.ClientID, req.CapsuleID, req.State)
	limit := r.Store.Policy.Get().MaxPendingGrantsPerCapsule
	var grant store.Grant
	err := r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		pending := 0
		for _, g := range doc.Grants {
			if g.RequestKey == key {
				grant = g
				return errUnchanged
			}
			if g.CapsuleID == req.CapsuleID && g.Status == store.StatusPending {
				pending++
			}
		}
		if limit > 0 && pending >= limit {
			return newError(CodeRateLimited,
				"capsule %s already has %d pending access requests (policy max_pending_grants_per_capsule); ask an operator to approve or deny them", req.CapsuleID, pending)
		}
		grant = store.Grant{
			ID: ids.New(ids.Grant), CapsuleID: req.CapsuleID, PrincipalID: req.PrincipalID, ClientName: req.ClientName,
			Role: req.Role, Status: store.StatusPending, RequestedAt: r.Now(),
			ClientID: req.ClientID, RequestKey: key, RedirectURI: req.RedirectURI, Scope: req.Scope,
		}
		doc.Grants = append(doc.Grants, grant)
		return nil
	})
	if err = ignoreUnchanged(err); err != nil {
		return store.Grant{}, err
	}
	return grant, nil
}

// MarkCodeIssued records that an authorization code was issued for a grant,
// once: a second call returns false.
func (r *Registry) MarkCodeIssued(grantID string) (bool, error) {
	now := r.Now()
	issued := false
	err := r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		for i := range doc.Grants {
			g := &doc.Grants[i]
			if g.ID != grantID {
				continue
			}
			if g.CodeIssuedAt != nil || g.Status != store.StatusApproved {
				return errUnchanged
			}
			g.CodeIssuedAt = &now
			issued = true
			return nil
		}
		return errUnchanged
	})
	return issued, ignoreUnchanged(err)
}

// ApplyGrantPolicy revokes, as "policy", approved grants older than
// max_grant_age_days and grants unused for max_idle_days.
func (r *Registry) ApplyGrantPolicy(now time.Time) (int, error) {
	policy := r.Store.Policy.Get()
	if policy.MaxGrantAgeDays <= 0 && policy.MaxIdleDays <= 0 {
		return 0, nil
	}
	maxAge := time.Duration(policy.MaxGrantAgeDays) * 24 * time.Hour
	maxIdle := time.Duration(policy.MaxIdleDays) * 24 * time.Hour

	lastUse := map[string]time.Time{}
	for _, sh := range r.Store.Shares.Get().Shares {
		if sh.GrantID != nil && sh.LastUsedAt != nil && sh.LastUsedAt.After(lastUse[*sh.GrantID]) {
			lastUse[*sh.GrantID] = *sh.LastUsedAt
		}
	}
	expired := map[string]bool{}
	for _, g := range r.Store.Grants.Get().Grants {
		if g.Status != store.StatusApproved {
			continue
		}
		approved := g.RequestedAt
		if g.ApprovedAt != nil {
			approved = *g.ApprovedAt
		}
		used := approved
		if g.LastUsedAt != nil && g.LastUsedAt.After(used) {
			used = *g.LastUsedAt
		}
		if t, ok := lastUse[g.ID]; ok && t.After(used) {
			used = t
		}
		if (maxAge > 0 && now.Sub(approved) > maxAge) || (maxIdle > 0 && now.Sub(used) > maxIdle) {
			expired[g.ID] = true
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()
	if _, err := r.revokeGrants(expired, ActorPolicy, false); err != nil && !errors.Is(err, errUnchanged) {
		return 0, err
	}
	return len(expired), nil
}

// Policy returns the current policy.
func (r *Registry) Policy() store.Policy {
	return *r.Store.Policy.Get()
}

// SetPolicy replaces the policy after checking every field.
func (r *Registry) SetPolicy(p store.Policy) (store.Policy, error) {
	if len(p.AllowedRoles) == 0 {
		return store.Policy{}, newError(CodeInvalidRequest, "allowed_roles is empty; list at least one of reader and writer")
	}
	for _, role := range p.AllowedRoles {
		if role != store.RoleReader && role != store.RoleWriter {
			return store.Policy{}, newError(CodeInvalidRequest, "allowed_roles contains %q; the roles are reader and writer", role)
		}
	}
	checks := []struct {
		field string
		value int
		min   int
	}{
		{"max_grant_age_days", p.MaxGrantAgeDays, 0},
		{"max_idle_days", p.MaxIdleDays, 0},
		{"anonymous_capsule_ttl_hours", p.AnonymousCapsuleTTLHours, 1},
		{"signal_ttl_seconds", p.SignalTTLSeconds, 1},
		{"max_pending_grants_per_capsule", p.MaxPendingGrantsPerCapsule, 1},
	}
	for _, c := range checks {
		if c.value < c.min {
			return store.Policy{}, newError(CodeInvalidRequest, "%s is %d; it must be %d or more", c.field, c.value, c.min)
		}
	}
	err := r.Store.Policy.Update(func(doc *store.Policy) error {
		*doc = p
		return nil
	})
	if err != nil {
		return store.Policy{}, err
	}
	r.Logger.Info("policy changed", "allowed_roles", p.AllowedRoles, "max_grant_age_days", p.MaxGrantAgeDays,
		"max_idle_days", p.MaxIdleDays, "allow_anonymous_capsules", p.AllowAnonymousCapsules)
	return p, nil
}
