package registry

import (
	"strings"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// InviteTTL is how long an operator invite link stays valid.
const InviteTTL = 7 * 24 * time.Hour

// InvitePath is the path of invite links under the public URL.
const InvitePath = "/invite/"

// Invite statuses as listed.
const (
	InvitePending  = "pending"
	InviteConsumed = "consumed"
	InviteRevoked  = "revoked"
	InviteExpired  = "expired"
)

// Invite is an operator invite as GET /v1/operators/invites lists it,
// without its token.
type Invite struct {
	InviteID   string     `json:"invite_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	Status     string     `json:"status"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ConsumedAt *time.Time `json:"consumed_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// NewInvite is a created invite with its link, which holds the token and
// is shown only once.
type NewInvite struct {
	InviteID  string    `json:"invite_id"`
	Email     string    `json:"-"`
	Role      string    `json:"-"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func inviteStatus(inv store.Invite, now time.Time) string {
	switch {
	case inv.ConsumedAt != nil:
		return InviteConsumed
	case inv.RevokedAt != nil:
		return InviteRevoked
	case !now.Before(inv.ExpiresAt):
		return InviteExpired
	}
	return InvitePending
}

func inviteOf(inv store.Invite, now time.Time) Invite {
	return Invite{
		InviteID: inv.ID, Email: inv.Email, Role: inv.Role, Status: inviteStatus(inv, now),
		CreatedBy: inv.CreatedBy, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt,
		ConsumedAt: inv.ConsumedAt, RevokedAt: inv.RevokedAt,
	}
}

func inviteNotFound(id string) *Error {
	return newError(CodeNotFound, "invite %s not found; list invites with GET /v1/operators/invites", id)
}

// InviteURL returns the link of an invite token under the public URL.
func (r *Registry) InviteURL(token string) string {
	return strings.TrimRight(r.BaseURL, "/") + InvitePath + token
}

// CreateInvite creates a single-use invite for email with an operator role,
// valid for InviteTTL. Only the SHA-256 of the token is stored. An email
// that already belongs to an operator is a conflict, because the invite
// could not bind its role.
func (r *Registry) CreateInvite(email, role, createdBy string) (NewInvite, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return NewInvite{}, err
	}
	if err := checkOperatorRole(role); err != nil {
		return NewInvite{}, err
	}
	if op, taken := r.OperatorByEmail(email); taken {
		return NewInvite{}, newError(CodeConflict,
			"%s is already operator %s; change its role with PATCH /v1/operators/%s instead of inviting it", email, op.ID, op.ID)
	}

	token := secret.NewToken(secret.PrefixInvite)
	now := r.Now()
	inv := store.Invite{
		ID: ids.New(ids.Invite), Email: email, Role: role, TokenHash: secret.Hash(token),
		CreatedBy: createdBy, CreatedAt: now, ExpiresAt: now.Add(InviteTTL),
	}
	err = r.Store.Invites.Update(func(doc *store.InvitesDoc) error {
		doc.Invites = append(doc.Invites, inv)
		return nil
	})
	if err != nil {
		return NewInvite{}, err
	}
	r.Logger.Info("operator invite created", "invite_id", inv.ID, "role", role, "expires_at", inv.ExpiresAt)
	return NewInvite{InviteID: inv.ID, Email: email, Role: role, URL: r.InviteURL(token), ExpiresAt: inv.ExpiresAt}, nil
}

// ListInvites returns the invites, oldest first.
func (r *Registry) ListInvites() []Invite {
	now := r.Now()
	list := []Invite{}
	for _, inv := range r.Store.Invites.Get().Invites {
		list = append(list, inviteOf(inv, now))
	}
	return list
}

// RevokeInvite makes a pending invite unusable. Revoking a revoked invite
// changes nothing, and a consumed invite cannot be revoked.
func (r *Registry) RevokeInvite(id string) (Invite, error) {
	now := r.Now()
	var updated store.Invite
	err := r.Store.Invites.Update(func(doc *store.InvitesDoc) error {
		for i := range doc.Invites {
			inv := &doc.Invites[i]
			if inv.ID != id {
				continue
			}
			updated = *inv
			switch {
			case inv.RevokedAt != nil:
				return errUnchanged
			case inv.ConsumedAt != nil:
				return newError(CodeConflict, "invite %s was already used; disable the operator with PATCH /v1/operators/:id instead", id)
			}
			inv.RevokedAt = &now
			updated = *inv
			return nil
		}
		return inviteNotFound(id)
	})
	if err = ignoreUnchanged(err); err != nil {
		return Invite{}, err
	}
	r.Logger.Info("operator invite revoked", "invite_id", id)
	return inviteOf(updated, now), nil
}

// PendingInvite returns the pending invite of token. A token that is
// malformed, unknown, used, revoked or expired is invalid_token.
func (r *Registry) PendingInvite(token string) (Invite, error) {
	if !secret.CheckToken(token, secret.PrefixInvite) {
		return Invite{}, newError(CodeInvalidToken, "the invite link is malformed; copy the whole link from the invite")
	}
	hash := secret.Hash(token)
	now := r.Now()
	for _, inv := range r.Store.Invites.Get().Invites {
		if !secret.Equal(inv.TokenHash, hash) {
			continue
		}
		if status := inviteStatus(inv, now); status != InvitePending {
			return Invite{}, newError(CodeInvalidToken, "this invite link is %s; ask an admin for a new invite", status)
		}
		return inviteOf(inv, now), nil
	}
	return Invite{}, newError(CodeInvalidToken, "this invite link is unknown; ask an admin for a new invite")
}

// AcceptInvite consumes the pending invite inviteID for the person who
// signed in with a verified email, and returns the operator it created or
// updated. The email must be the invited one, ignoring case. An existing
// active operator with that email takes the invited role; a disabled one
// is refused and the invite stays unused.
func (r *Registry) AcceptInvite(inviteID, email, name string) (Operator, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	name = displayName(name)

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	existing, exists := r.OperatorByEmail(email)
	if exists && existing.Status == OperatorDisabled {
		return Operator{}, operatorDisabled(existing.ID, email)
	}

	now := r.Now()
	var accepted store.Invite
	err := r.Store.Invites.Update(func(doc *store.InvitesDoc) error {
		for i := range doc.Invites {
			inv := &doc.Invites[i]
			if inv.ID != inviteID {
				continue
			}
			if status := inviteStatus(*inv, now); status != InvitePending {
				return newError(CodeInvalidToken, "this invite link is %s; ask an admin for a new invite", status)
			}
			if inv.Email != email {
				return newError(CodeForbidden, "this invite is for %s, but you signed in as %s; sign in with the invited account or ask for a new invite", inv.Email, email)
			}
			inv.ConsumedAt = &now
			accepted = *inv
			return nil
		}
		return newError(CodeInvalidToken, "this invite link is unknown; ask an admin for a new invite")
	})
	if err != nil {
		return Operator{}, err
	}

	if exists {
		if err := r.setOperatorRole(existing.ID, accepted.Role); err != nil {
			return Operator{}, err
		}
	} else if _, err := r.addOperator(email, name, accepted.Role); err != nil {
		return Operator{}, err
	}
	r.Logger.Info("operator invite accepted", "invite_id", inviteID, "role", accepted.Role)
	return r.recordSignIn(email, name)
}

// setOperatorRole sets the role of an operator. The caller holds
// ops.mutations.
func (r *Registry) setOperatorRole(id, role string) error {
	return r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		for i := range doc.Principals {
			if doc.Principals[i].ID == id {
				doc.Principals[i].Role = &role
				return nil
			}
		}
		return operatorNotFound(id)
	})
}

// PruneInvites removes the invites that were consumed, revoked or expired
// at least CredentialRetention before now, and returns how many it
// removed.
func (r *Registry) PruneInvites(now time.Time) (int, error) {
	stale := func(at *time.Time) bool { return at != nil && now.Sub(*at) >= CredentialRetention }
	removed := 0
	err := r.Store.Invites.Update(func(doc *store.InvitesDoc) error {
		kept := doc.Invites[:0]
		for _, inv := range doc.Invites {
			expires := inv.ExpiresAt
			if stale(inv.ConsumedAt) || stale(inv.RevokedAt) || stale(&expires) {
				removed++
				continue
			}
			kept = append(kept, inv)
		}
		if removed == 0 {
			return errUnchanged
		}
		doc.Invites = kept
		return nil
	})
	if err = ignoreUnchanged(err); err != nil {
		return 0, err
	}
	return removed, nil
}
