package registry

import (
	"slices"
	"time"

	"github.com/capsol/capsol/internal/store"
)

// Defaults of anonymous capsules.
const (
	DefaultAnonymousCapsuleName = "anonymous capsule"
	DefaultAnonymousTTLHours    = 168
	anonymousShareLabel         = "anonymous"
)

// MaxLiveAnonymousCapsules bounds the anonymous capsules that exist at one
// time, so that unauthenticated requests from many addresses cannot grow
// the index without limit. Expired ones count until the janitor deletes
// them.
//
// NOTE: the value is a guess at what a single registry needs, not a
// measured limit.
const MaxLiveAnonymousCapsules = 1000

// AnonymousCapsule is a new anonymous capsule with the credential of its
// creator's share, which is shown only here.
type AnonymousCapsule struct {
	CapsuleID  string    `json:"capsule_id"`
	MCPURL     string    `json:"mcp_url"`
	Credential string    `json:"credential"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// CreateAnonymousCapsule creates an unowned capsule that expires after the
// policy's anonymous_capsule_ttl_hours, with one share for its creator. The
// share is a writer when the policy allows writers, otherwise a reader.
func (r *Registry) CreateAnonymousCapsule(name string) (AnonymousCapsule, error) {
	policy := r.Store.Policy.Get()
	if !policy.AllowAnonymousCapsules {
		return AnonymousCapsule{}, newError(CodeForbidden,
			"anonymous capsules are disabled on this registry (policy allow_anonymous_capsules is false); ask an operator for a share or an enrollment token")
	}
	role := ""
	for _, candidate := range []string{store.RoleWriter, store.RoleReader} {
		if slices.Contains(policy.AllowedRoles, candidate) {
			role = candidate
			break
		}
	}
	if role == "" {
		return AnonymousCapsule{}, newError(CodeForbidden,
			"the policy's allowed_roles %q contain no agent role, so an anonymous capsule could not be used; ask an operator", policy.AllowedRoles)
	}
	if name == "" {
		name = DefaultAnonymousCapsuleName
	}
	ttlHours := policy.AnonymousCapsuleTTLHours
	if ttlHours == 0 {
		ttlHours = DefaultAnonymousTTLHours
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	if r.countAnonymousCapsules() >= MaxLiveAnonymousCapsules {
		return AnonymousCapsule{}, newError(CodeRateLimited,
			"this registry already holds %d anonymous capsules, its limit; try again after some expire", MaxLiveAnonymousCapsules)
	}
	info, err := r.CreateCapsule(name, "", true, time.Duration(ttlHours)*time.Hour)
	if err != nil {
		return AnonymousCapsule{}, err
	}
	share, err := r.createShare(info.Capsule, anonymousShareLabel, role)
	if err != nil {
		return AnonymousCapsule{}, err
	}
	return AnonymousCapsule{
		CapsuleID:  info.ID,
		MCPURL:     share.MCPURL,
		Credential: share.Credential,
		ExpiresAt:  *info.ExpiresAt,
	}, nil
}

func (r *Registry) countAnonymousCapsules() int {
	n := 0
	for _, c := range r.Store.Capsules.Get().Capsules {
		if c.Anonymous {
			n++
		}
	}
	return n
}
