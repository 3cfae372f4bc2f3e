package registry

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

func TestCreateShareStoresOnlyHash(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("design notes", "", false, 0)
	require.NoError(t, err)

	share, err := r.CreateShare(capsule.ID, "ci bot", store.RoleWriter)
	require.NoError(t, err)
	require.True(t, secret.CheckToken(share.Credential, secret.PrefixShare))
	require.Equal(t, "http://registry.test/mcp/"+capsule.ID, share.MCPURL)

	data, err := os.ReadFile(filepath.Join(r.Store.Dir, store.CredentialsFile))
	require.NoError(t, err)
	require.NotContains(t, string(data), share.Credential)
	require.Contains(t, string(data), secret.Hash(share.Credential))

	sh := r.share(t, share.ConnectionID)
	require.Equal(t, store.KindShare, sh.Kind)
	require.Equal(t, store.StatusActive, sh.Status)
	var principal store.Principal
	for _, p := range r.Store.Principals.Get().Principals {
		if p.ID == sh.PrincipalID {
			principal = p
		}
	}
	require.Equal(t, store.PrincipalAgent, principal.Kind)
	require.Equal(t, "ci bot", principal.Name)
}

func TestRoleCheckedAgainstPolicy(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)

	_, err = r.CreateShare(capsule.ID, "x", "admin")
	requireCode(t, err, CodeInvalidRequest)

	require.NoError(t, r.Store.Policy.Update(func(p *store.Policy) error {
		p.AllowedRoles = []string{store.RoleReader}
		return nil
	}))
	_, err = r.CreateShare(capsule.ID, "x", store.RoleWriter)
	requireCode(t, err, CodeForbidden)
	_, err = r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleWriter})
	requireCode(t, err, CodeForbidden)
	_, err = r.CreateShare(capsule.ID, "x", store.RoleReader)
	require.NoError(t, err)

	anonymous, err := r.CreateAnonymousCapsule("")
	require.NoError(t, err)
	connections, err := r.ListConnections(ConnectionFilter{CapsuleID: anonymous.CapsuleID})
	require.NoError(t, err)
	require.Len(t, connections, 1)
	require.Equal(t, store.RoleReader, connections[0].Role, "anonymous share falls back to reader")
}

func TestSetShareStatusRevokeIsFinal(t *testing.T) {
	r := newTestRegistry(t)
	var changed []string
	r.OnConnectionChanged(func(id string) { changed = append(changed, id) })
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	share, err := r.CreateShare(capsule.ID, "agent", store.RoleReader)
	require.NoError(t, err)
	id := share.ConnectionID

	c, err := r.SetShareStatus(id, store.StatusPaused)
	require.NoError(t, err)
	require.Equal(t, store.StatusPaused, c.Status)
	c, err = r.SetShareStatus(id, store.StatusActive)
	require.NoError(t, err)
	require.Equal(t, store.StatusActive, c.Status)

	writesBefore := r.writes.count(store.SharesFile)
	_, err = r.SetShareStatus(id, store.StatusActive)
	require.NoError(t, err)
	require.Equal(t, writesBefore, r.writes.count(store.SharesFile), "same status writes nothing")

	c, err = r.SetShareStatus(id, store.StatusRevoked)
	require.NoError(t, err)
	require.Equal(t, store.StatusRevoked, c.Status)
	require.NotNil(t, r.share(t, id).RevokedAt)
	for _, cred := range r.Store.Credentials.Get().Credentials {
		require.NotNil(t, cred.RevokedAt, "credential of a revoked connection is revoked")
	}

	_, err = r.SetShareStatus(id, store.StatusActive)
	requireCode(t, err, CodeConflict)
	_, err = r.SetShareStatus(id, store.StatusPaused)
	requireCode(t, err, CodeConflict)
	_, err = r.SetShareStatus(id, "deleted")
	requireCode(t, err, CodeInvalidRequest)
	_, err = r.SetShareStatus(ids.New(ids.Connection), store.StatusPaused)
	requireCode(t, err, CodeNotFound)

	require.Equal(t, []string{id, id, id}, changed, "one hook call per change")
}

func TestEnrollRedeemsEachUseOnce(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	uses := 2
	enrollment, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader, Label: "fleet", Uses: &uses})
	require.NoError(t, err)
	require.True(t, secret.CheckToken(enrollment.Token, secret.PrefixEnroll))
	require.Equal(t, r.Now().Add(24*time.Hour), enrollment.ExpiresAt)

	first, err := r.Enroll(enrollment.Token, "")
	require.NoError(t, err)
	require.Equal(t, capsule.ID, first.CapsuleID)
	require.Equal(t, "fleet", r.share(t, first.ConnectionID).Label, "empty label falls back to the enrollment's")
	second, err := r.Enroll(enrollment.Token, "agent two")
	require.NoError(t, err)
	require.Equal(t, "agent two", r.share(t, second.ConnectionID).Label)

	_, err = r.Enroll(enrollment.Token, "agent three")
	requireCode(t, err, CodeInvalidToken)

	list, err := r.ListEnrollments(capsule.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, EnrollmentExhausted, list[0].Status)
	require.Equal(t, 0, list[0].UsesLeft)
}

func TestEnrollConcurrentLastUse(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	enrollment, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)

	const agents = 8
	var wg sync.WaitGroup
	results := make(chan error, agents)
	for range agents {
		wg.Go(func() {
			_, err := r.Enroll(enrollment.Token, "racer")
			results <- err
		})
	}
	wg.Wait()
	close(results)
	succeeded := 0
	for err := range results {
		if err == nil {
			succeeded++
			continue
		}
		requireCode(t, err, CodeInvalidToken)
	}
	require.Equal(t, 1, succeeded)
	require.Len(t, r.Store.Shares.Get().Shares, 1)
}

func TestEnrollRejectsExpiredRevokedUnknown(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	ttl := 1
	expiring, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader, TTLHours: &ttl})
	require.NoError(t, err)
	revoked, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	require.NoError(t, r.RevokeEnrollment(revoked.EnrollmentID))
	require.NoError(t, r.RevokeEnrollment(revoked.EnrollmentID), "revoking twice is no error")

	_, err = r.Enroll(revoked.Token, "a")
	requireCode(t, err, CodeInvalidToken)
	_, err = r.Enroll(secret.NewToken(secret.PrefixEnroll), "a")
	requireCode(t, err, CodeInvalidToken)
	_, err = r.Enroll("capsol_enroll_short", "a")
	requireCode(t, err, CodeInvalidToken)

	r.clock.Advance(time.Hour)
	_, err = r.Enroll(expiring.Token, "a")
	requireCode(t, err, CodeInvalidToken)

	zero := 0
	_, err = r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader, Uses: &zero})
	requireCode(t, err, CodeInvalidRequest)
	_, err = r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader, TTLHours: &zero})
	requireCode(t, err, CodeInvalidRequest)
	err = r.RevokeEnrollment(ids.New(ids.Enrollment))
	requireCode(t, err, CodeNotFound)
}

func TestDeleteCapsuleMovesBox(t *testing.T) {
	r := newTestRegistry(t)
	var gone []string
	r.OnCapsuleGone(func(id string) { gone = append(gone, id) })
	capsule, err := r.CreateCapsule("doomed", "", false, 0)
	require.NoError(t, err)
	b, err := r.Box(capsule.ID)
	require.NoError(t, err)
	_, err = b.WriteEntry(box.WriteRequest{URI: "notes://keep/me", Content: "# kept"})
	require.NoError(t, err)
	r.AppendCapsuleLog(capsule.ID, auditlog.CapsuleRecord{Method: "tools/call", Outcome: auditlog.OutcomeOK})
	share, err := r.CreateShare(capsule.ID, "agent", store.RoleWriter)
	require.NoError(t, err)
	enrollment, err := r.CreateEnrollment(capsule.ID, EnrollmentRequest{Role: store.RoleReader})
	require.NoError(t, err)
	grantID := ids.New(ids.Grant)
	require.NoError(t, r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		doc.Grants = append(doc.Grants, store.Grant{ID: grantID, CapsuleID: capsule.ID, Status: "approved"})
		return nil
	}))

	require.NoError(t, r.DeleteCapsule(capsule.ID, ActorAdminKey))

	_, ok := r.Capsule(capsule.ID)
	require.False(t, ok)
	require.Equal(t, []string{capsule.ID}, gone)
	require.NoDirExists(t, filepath.Join(r.Store.Dir, store.BoxesDir, capsule.ID))
	moved := filepath.Join(r.Store.Dir, store.BoxesDir, DeletedBoxesDir, capsule.ID+"-"+strconv.FormatInt(r.Now().Unix(), 10))
	require.DirExists(t, filepath.Join(moved, ".capsol", "entries"))
	logs, err := os.ReadDir(filepath.Join(moved, ".capsol", "logs"))
	require.NoError(t, err)
	require.Len(t, logs, 1, "the capsule log moved with the box")

	require.Equal(t, store.StatusRevoked, r.share(t, share.ConnectionID).Status)
	grant := r.Store.Grants.Get().Grants[0]
	require.Equal(t, store.StatusRevoked, grant.Status)
	require.Equal(t, ActorAdminKey, *grant.RevokedBy)
	_, err = r.Enroll(enrollment.Token, "late")
	requireCode(t, err, CodeInvalidToken)

	err = r.DeleteCapsule(capsule.ID, ActorAdminKey)
	requireCode(t, err, CodeNotFound)
}

func TestListCapsulesFilters(t *testing.T) {
	r := newTestRegistry(t)
	operator := ids.New(ids.Operator)
	require.NoError(t, r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		doc.Principals = append(doc.Principals, store.Principal{ID: operator, Kind: store.PrincipalOperator, Name: "Ada"})
		return nil
	}))
	owned, err := r.CreateCapsule("Design Notes", operator, false, 0)
	require.NoError(t, err)
	_, err = r.CreateCapsule("scratch", "", false, 0)
	require.NoError(t, err)
	_, err = r.CreateCapsule("x", ids.New(ids.Operator), false, 0)
	requireCode(t, err, CodeInvalidRequest)
	_, err = r.CreateCapsule("  ", "", false, 0)
	requireCode(t, err, CodeInvalidRequest)
	_, err = r.CreateCapsule(strings.Repeat("n", MaxNameBytes+1), "", false, 0)
	requireCode(t, err, CodeInvalidRequest)

	require.Len(t, r.ListCapsules("", ""), 2)
	byOwner := r.ListCapsules(operator, "")
	require.Len(t, byOwner, 1)
	require.Equal(t, owned.ID, byOwner[0].ID)
	byName := r.ListCapsules("", "design")
	require.Len(t, byName, 1)
	require.Equal(t, owned.ID, byName[0].ID)

	b, err := r.Box(owned.ID)
	require.NoError(t, err)
	_, err = b.WriteEntry(box.WriteRequest{URI: "notes://a", Content: "a"})
	require.NoError(t, err)
	info, err := r.GetCapsule(owned.ID)
	require.NoError(t, err)
	require.Equal(t, 1, info.EntryCount)
}

func TestAuditRegistryAppendsLine(t *testing.T) {
	r := newTestRegistry(t)
	r.AuditRegistry(auditlog.RegistryRecord{Actor: ActorAdminKey, Action: "capsule.create", Target: "cap_x"})
	require.NoError(t, r.CloseRegistryAudit())

	entries, err := auditlog.Read(RegistryAuditDir(r.Store), auditlog.Filter{Actor: ActorAdminKey})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Contains(t, string(entries[0]), `"action":"capsule.create"`)
	require.FileExists(t, filepath.Join(r.Store.Dir, store.AuditDir, "2026-01-02.jsonl"))
}

func TestUpdateCapsuleWithoutChanges(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("same", "", false, 0)
	require.NoError(t, err)
	writes := r.writes.count(store.CapsulesFile)

	got, err := r.UpdateCapsule(capsule.ID, CapsuleUpdate{})
	require.NoError(t, err)
	require.Equal(t, capsule.Capsule, got.Capsule)
	require.Equal(t, writes, r.writes.count(store.CapsulesFile))

	_, err = r.UpdateCapsule(ids.New(ids.Capsule), CapsuleUpdate{})
	requireCode(t, err, CodeNotFound)
}
