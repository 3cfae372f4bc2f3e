package registry

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

func TestExpireAnonymousCapsules(t *testing.T) {
	r := newTestRegistry(t)
	var gone, changed []string
	r.OnCapsuleGone(func(id string) { gone = append(gone, id) })
	r.OnConnectionChanged(func(id string) { changed = append(changed, id) })

	kept, err := r.CreateCapsule("kept", "", false, 0)
	require.NoError(t, err)
	keptShare, err := r.CreateShare(kept.ID, "stays", store.RoleReader)
	require.NoError(t, err)
	anonymous, err := r.CreateAnonymousCapsule("scratch")
	require.NoError(t, err)
	require.Equal(t, r.Now().Add(168*time.Hour), anonymous.ExpiresAt)
	connections, err := r.ListConnections(ConnectionFilter{CapsuleID: anonymous.CapsuleID})
	require.NoError(t, err)
	require.Len(t, connections, 1)
	require.Equal(t, store.RoleWriter, connections[0].Role)
	require.Equal(t, anonymous.ExpiresAt, *connections[0].ExpiresAt, "the share expires with the capsule")
	_, err = r.CreateEnrollment(anonymous.CapsuleID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	boxDir := filepath.Join(r.Store.Dir, store.BoxesDir, anonymous.CapsuleID)
	require.DirExists(t, boxDir)

	r.clock.Advance(167 * time.Hour)
	removed, err := r.ExpireAnonymousCapsules(r.Now())
	require.NoError(t, err)
	require.Equal(t, 0, removed, "not expired yet")

	r.clock.Advance(time.Hour)
	removed, err = r.ExpireAnonymousCapsules(r.Now())
	require.NoError(t, err)
	require.Equal(t, 1, removed)

	_, ok := r.Capsule(anonymous.CapsuleID)
	require.False(t, ok)
	require.NoDirExists(t, boxDir)
	require.Equal(t, []string{anonymous.CapsuleID}, gone)
	require.Equal(t, []string{connections[0].ConnectionID}, changed)
	require.Len(t, r.Store.Shares.Get().Shares, 1)
	require.Equal(t, keptShare.ConnectionID, r.Store.Shares.Get().Shares[0].ConnectionID)
	require.Len(t, r.Store.Credentials.Get().Credentials, 1)
	require.Len(t, r.Store.Principals.Get().Principals, 1, "the anonymous share's agent principal is removed")
	require.Empty(t, r.Store.Enrollments.Get().Enrollments)
	require.Len(t, r.Store.Capsules.Get().Capsules, 1)
}

func TestAnonymousCapsulePolicy(t *testing.T) {
	r := newTestRegistry(t)
	require.NoError(t, r.Store.Policy.Update(func(p *store.Policy) error {
		p.AnonymousCapsuleTTLHours = 2
		return nil
	}))
	created, err := r.CreateAnonymousCapsule("")
	require.NoError(t, err)
	require.Equal(t, r.Now().Add(2*time.Hour), created.ExpiresAt)
	info, err := r.GetCapsule(created.CapsuleID)
	require.NoError(t, err)
	require.Equal(t, DefaultAnonymousCapsuleName, info.Name)
	require.True(t, info.Anonymous)

	require.NoError(t, r.Store.Policy.Update(func(p *store.Policy) error {
		p.AllowAnonymousCapsules = false
		return nil
	}))
	_, err = r.CreateAnonymousCapsule("")
	requireCode(t, err, CodeForbidden)
}

func TestPruneCredentials(t *testing.T) {
	r := newTestRegistry(t)
	now := r.Now()
	hourAgo := now.Add(-time.Hour)
	dayAgo := now.Add(-CredentialRetention)
	later := now.Add(time.Hour)
	credential := func(name string) store.Credential {
		return store.Credential{Hash: name, Kind: store.CredentialAccess, CapsuleID: ids.New(ids.Capsule), CreatedAt: now}
	}
	live, fresh := credential("live"), credential("revoked-hour-ago")
	fresh.RevokedAt = &hourAgo
	notExpired := credential("expires-later")
	notExpired.ExpiresAt = &later
	revoked, rotated, expired := credential("revoked-day-ago"), credential("rotated-day-ago"), credential("expired-day-ago")
	revoked.RevokedAt, rotated.RotatedAt, expired.ExpiresAt = &dayAgo, &dayAgo, &dayAgo
	require.NoError(t, r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = []store.Credential{live, fresh, notExpired, revoked, rotated, expired}
		return nil
	}))

	removed, err := r.PruneCredentials(now)
	require.NoError(t, err)
	require.Equal(t, 3, removed)
	var left []string
	for _, c := range r.Store.Credentials.Get().Credentials {
		left = append(left, c.Hash)
	}
	require.Equal(t, []string{"live", "revoked-hour-ago", "expires-later"}, left)

	writes := r.writes.count(store.CredentialsFile)
	removed, err = r.PruneCredentials(now)
	require.NoError(t, err)
	require.Equal(t, 0, removed)
	require.Equal(t, writes, r.writes.count(store.CredentialsFile), "nothing to prune writes nothing")
}

func TestPruneEnrollments(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	active, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	used, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	_, err = r.Enroll(used.Token, "a")
	require.NoError(t, err)
	revoked, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	require.NoError(t, r.RevokeEnrollment(revoked.EnrollmentID))
	ttl := 1
	_, err = r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader, TTLHours: &ttl})
	require.NoError(t, err)
	r.clock.Advance(2 * time.Hour)

	removed, err := r.PruneEnrollments(r.Now())
	require.NoError(t, err)
	require.Equal(t, 3, removed)
	left := r.Store.Enrollments.Get().Enrollments
	require.Len(t, left, 1)
	require.Equal(t, active.EnrollmentID, left[0].ID)
}
