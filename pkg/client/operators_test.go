package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSettingsUpdateJSON(t *testing.T) {
	cases := []struct {
		update SettingsUpdate
		want   string
	}{
		{SettingsUpdate{}, `{}`},
		{SettingsUpdate{PublicURL: Set("https://capsol.example.com")}, `{"public_url":"https://capsol.example.com"}`},
		{SettingsUpdate{SMTPURL: Clear()}, `{"smtp_url":null}`},
		{SettingsUpdate{ClearOIDC: true}, `{"oidc":null}`},
		{SettingsUpdate{OIDC: &OIDCUpdate{Issuer: Set("https://idp"), ClientSecret: Set("s")}}, `{"oidc":{"issuer":"https://idp","client_secret":"s"}}`},
	}
	for _, tc := range cases {
		data, err := json.Marshal(tc.update)
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(data))
	}
}

func TestRevokeOAuthTokenSendsForm(t *testing.T) {
	var gotType, gotBody, gotAuth string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotType, gotAuth = r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		body, _ := io.ReadAll(r.Body)
		gotBody = string(body)
		if form, _ := url.ParseQuery(gotBody); form.Get("token") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_request","error_description":"token is missing"}`)
		}
	}))
	defer server.Close()
	c := New(server.URL, "admin-key-value", nil)

	require.NoError(t, c.RevokeOAuthToken(t.Context(), "capsol_at_x"))
	require.Equal(t, "application/x-www-form-urlencoded", gotType)
	require.Equal(t, "token=capsol_at_x", gotBody)
	require.Empty(t, gotAuth, "the OAuth endpoint gets no admin key")

	err := c.RevokeOAuthToken(t.Context(), "")
	require.Equal(t, "invalid_request", ErrorCode(err))
	require.Contains(t, err.Error(), "token is missing")
}

func TestOperatorMethodsUsePaths(t *testing.T) {
	var gotMethod, gotPath, gotBody string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath = r.Method, r.URL.Path
		body, _ := io.ReadAll(r.Body)
		gotBody = string(body)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer server.Close()
	c := New(server.URL, "k", nil)

	_, err := c.SetOperatorRole(t.Context(), "op_1", "approver")
	require.NoError(t, err)
	require.Equal(t, "PATCH /v1/operators/op_1", gotMethod+" "+gotPath)
	require.JSONEq(t, `{"role":"approver"}`, gotBody)

	_, err = c.SetOperatorStatus(t.Context(), "op_1", "disabled")
	require.NoError(t, err)
	require.JSONEq(t, `{"status":"disabled"}`, gotBody)

	_, err = c.InviteOperator(t.Context(), "bea@example.com", "viewer")
	require.NoError(t, err)
	require.Equal(t, "POST /v1/operators/invites", gotMethod+" "+gotPath)

	_, err = c.RevokeGrant(t.Context(), "grt_1")
	require.NoError(t, err)
	require.Equal(t, "POST /v1/grants/grt_1/revoke", gotMethod+" "+gotPath)
}
