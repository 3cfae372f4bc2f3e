package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/pkg/client"
)

func TestCapsuleLogs(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	reg := startServer(t, clock)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "logged"})
	require.NoError(t, err)
	alice, bob := ids.New(ids.Connection), ids.New(ids.Connection)
	yesterday := clock.Now().Add(-24 * time.Hour)
	lines := []auditlog.CapsuleRecord{
		{TS: yesterday, ConnectionID: alice, Method: "tools/call", Tool: "read_entry", Outcome: auditlog.OutcomeOK},
		{TS: clock.Now().Add(-2 * time.Minute), ConnectionID: bob, Method: "tools/call", Tool: "write_entry", Outcome: auditlog.OutcomeOK},
		{TS: clock.Now().Add(-time.Minute), ConnectionID: alice, Method: "tools/call", Tool: "search_entries", Outcome: auditlog.OutcomeError},
	}
	for _, line := range lines {
		reg.Registry.AppendCapsuleLog(capsule.ID, line)
	}

	all, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{"read_entry", "write_entry", "search_entries"}, tools(t, all), "newest last")
	require.Contains(t, decodeObject(t, all[0]), "prev", "entries are returned as stored")

	newest, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"search_entries"}, tools(t, newest))

	byConnection, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{ConnectionID: alice})
	require.NoError(t, err)
	require.Equal(t, []string{"read_entry", "search_entries"}, tools(t, byConnection))

	byDate, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{Date: yesterday.Format(time.DateOnly)})
	require.NoError(t, err)
	require.Equal(t, []string{"read_entry"}, tools(t, byDate))

	since, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{Since: clock.Now().Add(-90 * time.Second)})
	require.NoError(t, err)
	require.Equal(t, []string{"search_entries"}, tools(t, since))

	otherDay, err := reg.Client.CapsuleLogs(ctx, capsule.ID, client.LogFilter{Date: "2020-01-01"})
	require.NoError(t, err)
	require.Empty(t, otherDay)
	empty := send(t, http.MethodGet, reg.URL+"/v1/capsules/"+capsule.ID+"/logs?date=2020-01-01", testAdminKey, "")
	require.JSONEq(t, `{"entries":[]}`, string(empty.Body))
}

func TestCapsuleLogsRejectsBadQuery(t *testing.T) {
	reg := startServer(t, &fakeClock{now: time.Now()})
	capsule, err := reg.Client.CreateCapsule(t.Context(), client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)
	base := reg.URL + "/v1/capsules/" + capsule.ID + "/logs"

	for _, query := range []string{
		"?date=yesterday", "?date=2026-02-30", "?date=../../x", "?since=noon",
		"?limit=0", "?limit=-5", "?limit=ten", "?limit=10001",
	} {
		resp := send(t, http.MethodGet, base+query, testAdminKey, "")
		requireError(t, resp, http.StatusBadRequest, "invalid_request")
	}
	badConnection := send(t, http.MethodGet, base+"?connection_id=con_x", testAdminKey, "")
	requireError(t, badConnection, http.StatusNotFound, "not_found")
	missing := send(t, http.MethodGet, reg.URL+"/v1/capsules/"+ids.New(ids.Capsule)+"/logs", testAdminKey, "")
	requireError(t, missing, http.StatusNotFound, "not_found")
}

func tools(t *testing.T, entries []json.RawMessage) []string {
	t.Helper()
	names := make([]string, 0, len(entries))
	for _, entry := range entries {
		names = append(names, decodeObject(t, entry)["tool"].(string))
	}
	return names
}
