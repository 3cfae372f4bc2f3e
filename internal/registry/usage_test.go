package registry

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

func TestTouchConnectionWritesNothing(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	share, err := r.CreateShare(capsule.ID, "agent", store.RoleReader)
	require.NoError(t, err)
	path := filepath.Join(r.Store.Dir, store.SharesFile)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	writes := r.writes.count(store.SharesFile)

	for range 1000 {
		r.TouchConnection(share.ConnectionID)
	}

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, writes, r.writes.count(store.SharesFile))
	connections, err := r.ListConnections(ConnectionFilter{})
	require.NoError(t, err)
	require.Equal(t, r.Now(), *connections[0].LastUsedAt, "the listing shows uses not written yet")

	require.NoError(t, r.FlushUsage())
	require.Equal(t, writes+1, r.writes.count(store.SharesFile))
	require.Equal(t, r.Now(), *r.share(t, share.ConnectionID).LastUsedAt)
}

func TestUsageFlusherWritesOncePerMinute(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	first, err := r.CreateShare(capsule.ID, "one", store.RoleReader)
	require.NoError(t, err)
	second, err := r.CreateShare(capsule.ID, "two", store.RoleReader)
	require.NoError(t, err)
	writes := r.writes.count(store.SharesFile)

	r.StartUsageFlusher(2 * time.Millisecond)
	touchFor := func(d time.Duration) {
		for deadline := time.Now().Add(d); time.Now().Before(deadline); {
			r.TouchConnection(first.ConnectionID)
			r.TouchConnection(second.ConnectionID)
			time.Sleep(100 * time.Microsecond)
		}
	}

	// Registry time does not advance, so every later poll finds less than a minute passed.
	touchFor(100 * time.Millisecond)
	require.Eventually(t, func() bool { return r.writes.count(store.SharesFile) == writes+1 },
		time.Second, time.Millisecond)
	touchFor(100 * time.Millisecond)
	require.Equal(t, writes+1, r.writes.count(store.SharesFile), "one write while less than a minute passed")

	r.clock.Advance(59 * time.Second)
	touchFor(50 * time.Millisecond)
	require.Equal(t, writes+1, r.writes.count(store.SharesFile), "59 seconds are not a minute")

	r.clock.Advance(time.Second)
	require.Eventually(t, func() bool { return r.writes.count(store.SharesFile) == writes+2 },
		time.Second, time.Millisecond)
	require.NoError(t, r.StopUsageFlusher())
	lastTouch := r.Now().Add(-time.Second)
	require.Equal(t, lastTouch, *r.share(t, first.ConnectionID).LastUsedAt)
	require.Equal(t, lastTouch, *r.share(t, second.ConnectionID).LastUsedAt)
}

func TestUsageUpdatesGrantOfConnection(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	grantID, connectionID := ids.New(ids.Grant), ids.New(ids.Connection)
	require.NoError(t, r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		doc.Grants = append(doc.Grants, store.Grant{ID: grantID, CapsuleID: capsule.ID, Status: "approved"})
		return nil
	}))
	require.NoError(t, r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, store.Share{
			ConnectionID: connectionID, CapsuleID: capsule.ID, Kind: store.KindOAuth,
			Status: store.StatusActive, GrantID: &grantID,
		})
		return nil
	}))

	r.TouchConnection(connectionID)
	r.TouchConnection(ids.New(ids.Connection))
	require.NoError(t, r.FlushUsage())

	require.Equal(t, r.Now(), *r.share(t, connectionID).LastUsedAt)
	require.Equal(t, r.Now(), *r.Store.Grants.Get().Grants[0].LastUsedAt)
	require.Len(t, r.Store.Shares.Get().Shares, 1, "a use of an unknown connection adds no record")
}

func TestSetShareStatusShowsPendingUse(t *testing.T) {
	r := newTestRegistry(t)
	capsule, err := r.CreateCapsule("c", "", false, 0)
	require.NoError(t, err)
	share, err := r.CreateShare(capsule.ID, "agent", store.RoleReader)
	require.NoError(t, err)

	r.TouchConnection(share.ConnectionID)
	paused, err := r.SetShareStatus(share.ConnectionID, store.StatusPaused)
	require.NoError(t, err)
	require.NotNil(t, paused.LastUsedAt, "the use not yet written to shares.json is shown")
	require.Equal(t, r.Now(), *paused.LastUsedAt)
	require.Nil(t, r.share(t, share.ConnectionID).LastUsedAt, "nothing was flushed by the status change")
}
