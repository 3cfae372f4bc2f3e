package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/capsol/capsol/internal/store"
)

// CredentialRetention is how long a revoked, rotated or expired credential
// stays in credentials.json before the janitor prunes it. Until then an
// agent that sends it receives token_revoked or token_expired, and after
// that invalid_token.
const CredentialRetention = 24 * time.Hour

// ExpireAnonymousCapsules deletes the anonymous capsules whose expires_at
// has passed: their boxes, and their capsule, share, credential, grant,
// enrollment and agent principal records. It returns how many capsules it
// deleted.
func (r *Registry) ExpireAnonymousCapsules(now time.Time) (int, error) {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	expired := map[string]bool{}
	for _, c := range r.Store.Capsules.Get().Capsules {
		if c.Anonymous && c.ExpiresAt != nil && !now.Before(*c.ExpiresAt) {
			expired[c.ID] = true
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}

	// Access ends first and the capsule records go last, so a crash
	// midway leaves the capsules in place for the next run to finish.
	connections, err := r.removeCapsuleRecords(expired)
	if err != nil {
		return 0, err
	}
	for _, connectionID := range connections {
		r.ConnectionChanged(connectionID)
	}
	for id := range expired {
		r.CapsuleGone(id)
		if err := os.RemoveAll(filepath.Dir(r.Store.BoxDir(id))); err != nil {
			return 0, fmt.Errorf("remove box of expired capsule %s: %w", id, err)
		}
		r.Logger.Info("anonymous capsule expired and deleted", "capsule_id", id)
	}

	err = r.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = removeCapsules(doc.Capsules, expired)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("remove expired capsules: %w", err)
	}
	return len(expired), nil
}

// removeCapsuleRecords removes the credentials, shares, grants,
// enrollments and agent principals of the given capsules, and returns the
// connection ids it removed. The caller holds ops.mutations.
func (r *Registry) removeCapsuleRecords(capsules map[string]bool) ([]string, error) {
	err := r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		kept := doc.Credentials[:0]
		for _, c := range doc.Credentials {
			if !capsules[c.CapsuleID] {
				kept = append(kept, c)
			}
		}
		doc.Credentials = kept
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remove credentials of expired capsules: %w", err)
	}

	var connections []string
	principals := map[string]bool{}
	err = r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		kept := doc.Shares[:0]
		for _, sh := range doc.Shares {
			if !capsules[sh.CapsuleID] {
				kept = append(kept, sh)
				continue
			}
			connections = append(connections, sh.ConnectionID)
			principals[sh.PrincipalID] = true
		}
		doc.Shares = kept
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remove shares of expired capsules: %w", err)
	}

	err = r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		kept := doc.Grants[:0]
		for _, g := range doc.Grants {
			if !capsules[g.CapsuleID] {
				kept = append(kept, g)
			}
		}
		doc.Grants = kept
		return nil
	})
	if err != nil {
		return connections, fmt.Errorf("remove grants of expired capsules: %w", err)
	}

	err = r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		kept := doc.Enrollments[:0]
		for _, e := range doc.Enrollments {
			if !capsules[e.CapsuleID] {
				kept = append(kept, e)
			}
		}
		doc.Enrollments = kept
		return nil
	})
	if err != nil {
		return connections, fmt.Errorf("remove enrollments of expired capsules: %w", err)
	}

	// An agent principal belongs to the share it was created for. One that
	// another share still names is kept.
	for _, sh := range r.Store.Shares.Get().Shares {
		delete(principals, sh.PrincipalID)
	}
	if len(principals) > 0 {
		err = r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
			kept := doc.Principals[:0]
			for _, p := range doc.Principals {
				if !(principals[p.ID] && p.Kind == store.PrincipalAgent) {
					kept = append(kept, p)
				}
			}
			doc.Principals = kept
			return nil
		})
		if err != nil {
			return connections, fmt.Errorf("remove principals of expired capsules: %w", err)
		}
	}
	return connections, nil
}

// PruneCredentials removes the credentials that were revoked, rotated or
// expired at least CredentialRetention before now, and returns how many
// it removed.
func (r *Registry) PruneCredentials(now time.Time) (int, error) {
	stale := func(at *time.Time) bool { return at != nil && now.Sub(*at) >= CredentialRetention }
	removed := 0
	err := r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		kept := doc.Credentials[:0]
		for _, c := range doc.Credentials {
			if stale(c.RevokedAt) || stale(c.RotatedAt) || stale(c.ExpiresAt) {
				removed++
				continue
			}
			kept = append(kept, c)
		}
		if removed == 0 {
			return errUnchanged
		}
		doc.Credentials = kept
		return nil
	})
	if err = ignoreUnchanged(err); err != nil {
		return 0, fmt.Errorf("prune %s: %w", store.CredentialsFile, err)
	}
	return removed, nil
}

// PruneEnrollments removes the enrollment tokens that are used up, expired
// or revoked, and returns how many it removed.
func (r *Registry) PruneEnrollments(now time.Time) (int, error) {
	removed := 0
	err := r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		kept := doc.Enrollments[:0]
		for _, e := range doc.Enrollments {
			if enrollmentStatus(e, now) != EnrollmentActive {
				removed++
				continue
			}
			kept = append(kept, e)
		}
		if removed == 0 {
			return errUnchanged
		}
		doc.Enrollments = kept
		return nil
	})
	if err = ignoreUnchanged(err); err != nil {
		return 0, fmt.Errorf("prune %s: %w", store.EnrollmentsFile, err)
	}
	return removed, nil
}
