package registry

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

func TestCreateOperatorChecksInput(t *testing.T) {
	tr := newTestRegistry(t)

	op, err := tr.CreateOperator("  Ada@Example.com ", OperatorAdmin)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", op.Email)
	require.Equal(t, OperatorAdmin, op.Role)
	require.Equal(t, OperatorActive, op.Status)
	require.True(t, strings.HasPrefix(op.ID, "op_"))

	_, err = tr.CreateOperator("ada@example.com", OperatorViewer)
	requireCode(t, err, CodeConflict)
	_, err = tr.CreateOperator("Ada <ada2@example.com>", OperatorViewer)
	requireCode(t, err, CodeInvalidRequest)
	_, err = tr.CreateOperator("bob@example.com", "owner")
	requireCode(t, err, CodeInvalidRequest)
	_, err = tr.CreateOperator("", OperatorViewer)
	requireCode(t, err, CodeInvalidRequest)
	require.Len(t, tr.ListOperators(), 1)
}

func TestRoleAllows(t *testing.T) {
	require.True(t, RoleAllows(OperatorAdmin, OperatorViewer))
	require.True(t, RoleAllows(OperatorApprover, OperatorApprover))
	require.False(t, RoleAllows(OperatorApprover, OperatorAdmin))
	require.False(t, RoleAllows(OperatorViewer, OperatorApprover))
	require.False(t, RoleAllows("", OperatorViewer))
	require.False(t, RoleAllows(OperatorAdmin, "root"))
}

func TestSessionKeepsRoleUntilNextSignIn(t *testing.T) {
	tr := newTestRegistry(t)
	op, err := tr.CreateOperator("ada@example.com", OperatorViewer)
	require.NoError(t, err)
	first, err := tr.CreateSession(op.ID)
	require.NoError(t, err)

	approver := OperatorApprover
	_, err = tr.UpdateOperator(op.ID, OperatorUpdate{Role: &approver})
	require.NoError(t, err)

	session, ok := tr.LookupSession(first.CookieValue)
	require.True(t, ok)
	require.Equal(t, OperatorViewer, session.Role, "an open session keeps its role")

	_, err = tr.SignInOperator("ada@example.com", "Ada")
	require.NoError(t, err)
	second, err := tr.CreateSession(op.ID)
	require.NoError(t, err)
	require.Equal(t, OperatorApprover, second.Role, "the next sign-in gets the new role")
}

func TestDisableEndsSessionsAndSignIn(t *testing.T) {
	tr := newTestRegistry(t)
	op, err := tr.CreateOperator("ada@example.com", OperatorAdmin)
	require.NoError(t, err)
	session, err := tr.CreateSession(op.ID)
	require.NoError(t, err)

	disabled := OperatorDisabled
	_, err = tr.UpdateOperator(op.ID, OperatorUpdate{Status: &disabled})
	require.NoError(t, err)

	_, ok := tr.LookupSession(session.CookieValue)
	require.False(t, ok)
	require.Empty(t, tr.Store.Sessions.Get().Sessions)
	_, err = tr.SignInOperator("ada@example.com", "")
	requireCode(t, err, CodeOperatorDisabled)
	_, err = tr.CreateSession(op.ID)
	requireCode(t, err, CodeOperatorDisabled)
}

func TestSessionIdleAndMaxAge(t *testing.T) {
	tr := newTestRegistry(t)
	op, err := tr.CreateOperator("ada@example.com", OperatorAdmin)
	require.NoError(t, err)

	idle, err := tr.CreateSession(op.ID)
	require.NoError(t, err)
	tr.clock.Advance(SessionIdle - time.Minute)
	_, ok := tr.LookupSession(idle.CookieValue)
	require.True(t, ok, "a request just before the idle limit keeps the session")
	tr.clock.Advance(SessionIdle - time.Minute)
	_, ok = tr.LookupSession(idle.CookieValue)
	require.True(t, ok, "the previous request reset the idle time")
	tr.clock.Advance(SessionIdle)
	_, ok = tr.LookupSession(idle.CookieValue)
	require.False(t, ok, "12 hours without a request end the session")

	busy, err := tr.CreateSession(op.ID)
	require.NoError(t, err)
	for range 15 { // 165 hours, one request every 11 hours
		tr.clock.Advance(11 * time.Hour)
		_, ok = tr.LookupSession(busy.CookieValue)
		require.True(t, ok)
	}
	tr.clock.Advance(4 * time.Hour) // 169 hours after creation
	_, ok = tr.LookupSession(busy.CookieValue)
	require.False(t, ok, "a session ends after 7 days even when used")
}

func TestSessionStoredAsHashes(t *testing.T) {
	tr := newTestRegistry(t)
	op, err := tr.CreateOperator("ada@example.com", OperatorAdmin)
	require.NoError(t, err)
	session, err := tr.CreateSession(op.ID)
	require.NoError(t, err)

	records := tr.Store.Sessions.Get().Sessions
	require.Len(t, records, 1)
	require.Equal(t, secret.Hash(session.CookieValue), records[0].IDHash)
	require.Equal(t, secret.Hash(session.CSRFToken), records[0].CSRFHash)
	require.NotEqual(t, session.CookieValue, records[0].IDHash)
	require.Equal(t, CSRFToken(session.CookieValue), session.CSRFToken)

	require.NoError(t, tr.DeleteSession(session.CookieValue))
	_, ok := tr.LookupSession(session.CookieValue)
	require.False(t, ok)
}

func TestSessionTouchCoalesced(t *testing.T) {
	tr := newTestRegistry(t)
	op, err := tr.CreateOperator("ada@example.com", OperatorAdmin)
	require.NoError(t, err)
	session, err := tr.CreateSession(op.ID)
	require.NoError(t, err)

	before := tr.writes.count(store.SessionsFile)
	for range 20 {
		_, ok := tr.LookupSession(session.CookieValue)
		require.True(t, ok)
	}
	require.Equal(t, before, tr.writes.count(store.SessionsFile), "requests within a minute write nothing")
	tr.clock.Advance(2 * time.Minute)
	_, ok := tr.LookupSession(session.CookieValue)
	require.True(t, ok)
	require.Equal(t, before+1, tr.writes.count(store.SessionsFile))
}

func TestInviteSingleUse(t *testing.T) {
	tr := newTestRegistry(t)
	invite, err := tr.CreateInvite("Bea@Example.com", OperatorApprover, ActorAdminKey)
	require.NoError(t, err)
	require.Equal(t, "bea@example.com", invite.Email)
	require.Equal(t, tr.Now().Add(InviteTTL), invite.ExpiresAt)
	token := strings.TrimPrefix(invite.URL, "http://registry.test/invite/")
	require.True(t, secret.CheckToken(token, secret.PrefixInvite), "url %s", invite.URL)

	stored := tr.Store.Invites.Get().Invites
	require.Len(t, stored, 1)
	require.Equal(t, secret.Hash(token), stored[0].TokenHash)

	pending, err := tr.PendingInvite(token)
	require.NoError(t, err)
	require.Equal(t, invite.InviteID, pending.InviteID)

	_, err = tr.AcceptInvite(invite.InviteID, "mallory@example.com", "")
	requireCode(t, err, CodeForbidden)

	op, err := tr.AcceptInvite(invite.InviteID, "BEA@example.com", "Bea")
	require.NoError(t, err)
	require.Equal(t, OperatorApprover, op.Role)
	require.Equal(t, "Bea", op.Name)
	require.NotNil(t, op.LastLoginAt)

	_, err = tr.PendingInvite(token)
	requireCode(t, err, CodeInvalidToken)
	_, err = tr.AcceptInvite(invite.InviteID, "bea@example.com", "")
	requireCode(t, err, CodeInvalidToken)
	require.Equal(t, InviteConsumed, tr.ListInvites()[0].Status)
}

func TestInviteRejected(t *testing.T) {
	tr := newTestRegistry(t)
	_, err := tr.CreateOperator("ada@example.com", OperatorAdmin)
	require.NoError(t, err)
	_, err = tr.CreateInvite("ada@example.com", OperatorViewer, ActorAdminKey)
	requireCode(t, err, CodeConflict)
	_, err = tr.CreateInvite("bea@example.com", "superuser", ActorAdminKey)
	requireCode(t, err, CodeInvalidRequest)

	_, err = tr.PendingInvite("capsol_inv_short")
	requireCode(t, err, CodeInvalidToken)
	_, err = tr.PendingInvite(secret.NewToken(secret.PrefixInvite))
	requireCode(t, err, CodeInvalidToken)

	expiring, err := tr.CreateInvite("bea@example.com", OperatorViewer, ActorAdminKey)
	require.NoError(t, err)
	revoked, err := tr.CreateInvite("cy@example.com", OperatorViewer, ActorAdminKey)
	require.NoError(t, err)
	_, err = tr.RevokeInvite(revoked.InviteID)
	require.NoError(t, err)
	_, err = tr.AcceptInvite(revoked.InviteID, "cy@example.com", "")
	requireCode(t, err, CodeInvalidToken)

	tr.clock.Advance(InviteTTL)
	_, err = tr.AcceptInvite(expiring.InviteID, "bea@example.com", "")
	requireCode(t, err, CodeInvalidToken)
	require.Len(t, tr.ListOperators(), 1)
}

func TestPruneInvites(t *testing.T) {
	tr := newTestRegistry(t)
	used, err := tr.CreateInvite("bea@example.com", OperatorViewer, ActorAdminKey)
	require.NoError(t, err)
	_, err = tr.AcceptInvite(used.InviteID, "bea@example.com", "")
	require.NoError(t, err)
	_, err = tr.CreateInvite("cy@example.com", OperatorViewer, ActorAdminKey)
	require.NoError(t, err)

	removed, err := tr.PruneInvites(tr.Now())
	require.NoError(t, err)
	require.Zero(t, removed, "a consumed invite stays listed for a day")

	tr.clock.Advance(CredentialRetention)
	removed, err = tr.PruneInvites(tr.Now())
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	tr.clock.Advance(InviteTTL)
	removed, err = tr.PruneInvites(tr.Now())
	require.NoError(t, err)
	require.Equal(t, 1, removed)
	require.Empty(t, tr.Store.Invites.Get().Invites)
}

func TestDisabledOperatorInviteStaysUnused(t *testing.T) {
	tr := newTestRegistry(t)
	invite, err := tr.CreateInvite("bea@example.com", OperatorViewer, ActorAdminKey)
	require.NoError(t, err)
	op, err := tr.AcceptInvite(invite.InviteID, "bea@example.com", "")
	require.NoError(t, err)
	disabled := OperatorDisabled
	_, err = tr.UpdateOperator(op.ID, OperatorUpdate{Status: &disabled})
	require.NoError(t, err)

	// An invite cannot be created for an existing operator, so one made
	// before the operator existed is the only way this happens.
	require.NoError(t, tr.Store.Invites.Update(func(doc *store.InvitesDoc) error {
		doc.Invites[0].ConsumedAt = nil
		return nil
	}))
	_, err = tr.AcceptInvite(invite.InviteID, "bea@example.com", "")
	requireCode(t, err, CodeOperatorDisabled)
	require.Nil(t, tr.Store.Invites.Get().Invites[0].ConsumedAt)
}
