package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/api"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/pkg/client"
)

func TestEnrollmentRedeemedOnce(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)

	created := send(t, http.MethodPost, reg.URL+"/v1/capsules/"+capsule.ID+"/enrollments", testAdminKey, `{"role":"reader","label":"fleet"}`)
	require.Equal(t, http.StatusCreated, created.Status, "body: %s", created.Body)
	require.ElementsMatch(t, []string{"enrollment_id", "token", "expires_at"}, mapKeys(created.JSON))
	token := created.JSON["token"].(string)
	require.True(t, secret.CheckToken(token, secret.PrefixEnroll))
	expires, err := time.Parse(time.RFC3339Nano, created.JSON["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), expires, time.Minute, "default ttl is 24 hours")

	enrolled := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"token":"`+token+`","label":"agent one"}`)
	require.Equal(t, http.StatusCreated, enrolled.Status, "body: %s", enrolled.Body)
	require.ElementsMatch(t, []string{"connection_id", "capsule_id", "mcp_url", "credential", "role"}, mapKeys(enrolled.JSON))
	require.Equal(t, capsule.ID, enrolled.JSON["capsule_id"])
	require.Equal(t, "reader", enrolled.JSON["role"])
	require.True(t, secret.CheckToken(enrolled.JSON["credential"].(string), secret.PrefixShare))

	again := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"token":"`+token+`","label":"agent two"}`)
	requireError(t, again, http.StatusUnauthorized, "invalid_token")
	require.NotEmpty(t, again.JSON["error_description"])
	require.Contains(t, again.Header.Get("WWW-Authenticate"), `error="invalid_token"`)

	connections, err := reg.Client.ListConnections(ctx, client.ConnectionFilter{CapsuleID: capsule.ID})
	require.NoError(t, err)
	require.Len(t, connections, 1)
	require.Equal(t, "agent one", connections[0].Label)

	list, err := reg.Client.ListEnrollments(ctx, capsule.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, created.JSON["enrollment_id"], list[0].EnrollmentID)
	require.Equal(t, "exhausted", list[0].Status)
	require.Equal(t, "fleet", list[0].Label)
	require.NotContains(t, send(t, http.MethodGet, reg.URL+"/v1/capsules/"+capsule.ID+"/enrollments", testAdminKey, "").Body,
		token, "the token is never listed")
}

func TestEnrollmentRevokeAndLimits(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	capsule, err := reg.Client.CreateCapsule(ctx, client.CreateCapsuleRequest{Name: "c"})
	require.NoError(t, err)
	uses, ttl := 3, 2
	enrollment, err := reg.Client.CreateEnrollment(ctx, capsule.ID, client.CreateEnrollmentRequest{
		Role: "writer", Uses: &uses, TTLHours: &ttl,
	})
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), enrollment.ExpiresAt, time.Minute)

	first, err := reg.Client.Enroll(ctx, enrollment.Token, "")
	require.NoError(t, err)
	require.Equal(t, "writer", first.Role)

	require.NoError(t, reg.Client.RevokeEnrollment(ctx, enrollment.EnrollmentID))
	_, err = reg.Client.Enroll(ctx, enrollment.Token, "after revoke")
	requireAPIError(t, err, http.StatusUnauthorized, "invalid_token")
	list, err := reg.Client.ListEnrollments(ctx, capsule.ID)
	require.NoError(t, err)
	require.Equal(t, "revoked", list[0].Status)
	require.Equal(t, 2, list[0].UsesLeft)

	err = reg.Client.RevokeEnrollment(ctx, ids.New(ids.Enrollment))
	requireAPIError(t, err, http.StatusNotFound, "not_found")
	_, err = reg.Client.ListEnrollments(ctx, ids.New(ids.Capsule))
	requireAPIError(t, err, http.StatusNotFound, "not_found")

	for _, body := range []string{
		`{"role":"reader","uses":0}`,
		`{"role":"reader","uses":-1}`,
		`{"role":"reader","uses":100000}`,
		`{"role":"reader","ttl_hours":0}`,
		`{"role":"reader","ttl_hours":1.5}`,
		`{"role":"reader","ttl_hours":"24"}`,
	} {
		resp := send(t, http.MethodPost, reg.URL+"/v1/capsules/"+capsule.ID+"/enrollments", testAdminKey, body)
		requireError(t, resp, http.StatusBadRequest, "invalid_request")
	}
}

func TestEnrollRejectsBadTokens(t *testing.T) {
	reg := bootDaemon(t)
	ctx := t.Context()
	for _, token := range []string{
		"capsol_enroll_not-a-token",
		secret.NewToken(secret.PrefixEnroll),
		secret.NewToken(secret.PrefixShare),
	} {
		_, err := reg.Client.Enroll(ctx, token, "x")
		requireAPIError(t, err, http.StatusUnauthorized, "invalid_token")
	}
	missing := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"label":"x"}`)
	requireError(t, missing, http.StatusBadRequest, "invalid_request")
	unknownField := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"token":"x","capsule":"y"}`)
	requireError(t, unknownField, http.StatusBadRequest, "invalid_request")
}

func TestEnrollRateLimited(t *testing.T) {
	reg := bootDaemon(t)
	for range api.EnrollBurst {
		resp := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"token":"capsol_enroll_x"}`)
		requireError(t, resp, http.StatusUnauthorized, "invalid_token")
	}

	// A bucket gains one token every 60/EnrollPerMinute seconds, far longer
	// than the requests above take.
	resp := send(t, http.MethodPost, reg.URL+"/enroll", "", `{"token":"capsol_enroll_x"}`)
	requireError(t, resp, http.StatusTooManyRequests, "rate_limited")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
}
