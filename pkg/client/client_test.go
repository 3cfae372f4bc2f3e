package client

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAPIErrorFromJSONBody(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":"too many anonymous capsule requests; retry after 7 seconds","error_code":"rate_limited"}`)
	}))
	defer server.Close()

	_, err := New(server.URL, "", nil).CreateAnonymousCapsule(t.Context(), "")
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	require.Equal(t, "rate_limited", apiErr.Code)
	require.Equal(t, 7*time.Second, apiErr.RetryAfter)
	require.Equal(t, "rate_limited", ErrorCode(err))
	require.Contains(t, err.Error(), "retry after 7 seconds")
}

func TestAPIErrorFromPlainBody(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from proxy", http.StatusBadGateway)
	}))
	defer server.Close()

	_, err := New(server.URL, "k", nil).ListCapsules(t.Context(), "", "")
	var apiErr *APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, http.StatusBadGateway, apiErr.Status)
	require.Empty(t, apiErr.Code)
	require.Equal(t, "bad gateway from proxy", apiErr.Message)
}

func TestRequestsCarryKeyAndEscapedIDs(t *testing.T) {
	var gotPath, gotAuth, gotBody string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		body, _ := io.ReadAll(r.Body)
		gotBody = string(body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer server.Close()
	c := New(server.URL+"/", "admin-key-value", nil)

	require.NoError(t, c.DeleteCapsule(t.Context(), "../x"))
	require.Equal(t, "/v1/capsules/..%2Fx", gotPath)
	require.Equal(t, "Bearer admin-key-value", gotAuth)

	_, err := c.Enroll(t.Context(), "capsol_enroll_x", "laptop")
	require.NoError(t, err)
	require.Empty(t, gotAuth, "agent endpoints do not send the admin key")
	require.JSONEq(t, `{"token":"capsol_enroll_x","label":"laptop"}`, gotBody)
}

func TestUpdateCapsuleRequestJSON(t *testing.T) {
	name, owner := "renamed", "op_01jc0000000000000000000000"
	cases := []struct {
		req  UpdateCapsuleRequest
		want string
	}{
		{UpdateCapsuleRequest{Name: &name}, `{"name":"renamed"}`},
		{UpdateCapsuleRequest{OwnerID: &owner, ClaimOwnership: true}, `{"owner_id":"op_01jc0000000000000000000000","claim_ownership":true}`},
		{UpdateCapsuleRequest{ClearOwner: true}, `{"owner_id":null}`},
		{UpdateCapsuleRequest{}, `{}`},
	}
	for _, tc := range cases {
		data, err := json.Marshal(tc.req)
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(data))
	}
}
