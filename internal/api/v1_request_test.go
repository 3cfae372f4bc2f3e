package api_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/api"
)

func TestAdminKeyRequired(t *testing.T) {
	reg := bootDaemon(t)
	routes := []struct{ method, path string }{
		{http.MethodGet, "/v1/capsules"},
		{http.MethodPost, "/v1/capsules"},
		{http.MethodGet, "/v1/capsules/cap_01jc0000000000000000000000"},
		{http.MethodDelete, "/v1/capsules/cap_01jc0000000000000000000000"},
		{http.MethodGet, "/v1/capsules/cap_01jc0000000000000000000000/logs"},
		{http.MethodPost, "/v1/capsules/cap_01jc0000000000000000000000/shares"},
		{http.MethodGet, "/v1/connections"},
		{http.MethodPatch, "/v1/shares/con_01jc0000000000000000000000"},
		{http.MethodDelete, "/v1/enrollments/enr_01jc0000000000000000000000"},
	}
	for _, route := range routes {
		t.Run(route.method+" "+route.path, func(t *testing.T) {
			missing := send(t, route.method, reg.URL+route.path, "", "")
			requireError(t, missing, http.StatusUnauthorized, "invalid_token")
			require.Contains(t, missing.JSON["error"], "CAPSOL_ADMIN_KEY")
			require.Contains(t, missing.Header.Get("WWW-Authenticate"), "Bearer")

			wrong := send(t, route.method, reg.URL+route.path, "not-the-admin-key-at-all", "")
			requireError(t, wrong, http.StatusUnauthorized, "invalid_token")
			require.Contains(t, wrong.JSON["error"], "~/.capsol/admin.key")
		})
	}

	_, err := reg.Client.ListCapsules(t.Context(), "", "")
	require.NoError(t, err, "the right key is accepted")
}

func TestMalformedIDsAreNotFound(t *testing.T) {
	reg := bootDaemon(t)
	paths := []struct{ method, path string }{
		{http.MethodGet, "/v1/capsules/nope"},
		{http.MethodGet, "/v1/capsules/.."},
		{http.MethodGet, "/v1/capsules/%2e%2e"},
		{http.MethodGet, "/v1/capsules/%2e%2e/logs"},
		{http.MethodGet, "/v1/capsules/..%2f..%2fmeta.json/logs"},
		{http.MethodGet, "/v1/capsules/CAP_01JC0000000000000000000000"},
		{http.MethodGet, "/v1/capsules/cap_01jc000000000000000000000"},
		{http.MethodGet, "/v1/capsules/cap_01jc00000000000000000000000"},
		{http.MethodGet, "/v1/capsules/cap_81jc0000000000000000000000"},
		{http.MethodGet, "/v1/capsules/con_01jc0000000000000000000000"},
		{http.MethodPatch, "/v1/capsules/..%5c.."},
		{http.MethodDelete, "/v1/capsules/%2e%2e"},
		{http.MethodPost, "/v1/capsules/%2e%2e/shares"},
		{http.MethodPost, "/v1/capsules/../enrollments"},
		{http.MethodGet, "/v1/capsules/%2e%2e/enrollments"},
		{http.MethodDelete, "/v1/enrollments/%2e%2e"},
		{http.MethodDelete, "/v1/enrollments/cap_01jc0000000000000000000000"},
		{http.MethodPatch, "/v1/shares/.."},
		{http.MethodPatch, "/v1/shares/%2e%2e"},
		{http.MethodGet, "/v1/connections?capsule_id=../x"},
		{http.MethodGet, "/v1/capsules?owner=%2e%2e"},
		{http.MethodGet, "/v1/capsules/cap_01jc0000000000000000000000/logs?connection_id=%2e%2e"},
	}
	for _, p := range paths {
		t.Run(p.method+" "+p.path, func(t *testing.T) {
			resp := send(t, p.method, reg.URL+p.path, testAdminKey, `{"name":"x","label":"x","role":"reader","status":"paused"}`)
			requireError(t, resp, http.StatusNotFound, "not_found")
		})
	}
}

func TestStrictJSONBodies(t *testing.T) {
	reg := bootDaemon(t)
	cases := []struct {
		name, body, mention string
	}{
		{"unknown field", `{"name":"a","colour":"red"}`, `"colour"`},
		{"wrong type", `{"name":42}`, `"name"`},
		{"not an object", `["a"]`, "JSON object"},
		{"invalid JSON", `{"name":`, "ends inside"},
		{"syntax error", `{name: "a"}`, "not valid JSON"},
		{"trailing data", `{"name":"a"} {"name":"b"}`, "after the JSON object"},
		{"empty body", ``, "empty"},
		{"missing name", `{}`, "name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(t, http.MethodPost, reg.URL+"/v1/capsules", testAdminKey, tc.body)
			requireError(t, resp, http.StatusBadRequest, "invalid_request")
			require.Contains(t, resp.JSON["error"], tc.mention)
		})
	}
	capsules, err := reg.Client.ListCapsules(t.Context(), "", "")
	require.NoError(t, err)
	require.Empty(t, capsules, "a rejected request creates nothing")
}

func TestOversizedBodyIsTooLarge(t *testing.T) {
	reg := bootDaemon(t)
	name := strings.Repeat("a", api.MaxBodyBytes)
	body := `{"name":"` + name + `"}`

	withLength := send(t, http.MethodPost, reg.URL+"/v1/capsules", testAdminKey, body)
	requireError(t, withLength, http.StatusRequestEntityTooLarge, "too_large")

	// Without Content-Length the limit is found while reading.
	req, err := http.NewRequest(http.MethodPost, reg.URL+"/v1/capsules", io.MultiReader(bytes.NewReader([]byte(body))))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	require.Equal(t, int64(0), req.ContentLength, "the body is sent chunked")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(data), `"error_code":"too_large"`)

	anonymous := send(t, http.MethodPost, reg.URL+"/anonymous/capsules", "", body)
	requireError(t, anonymous, http.StatusRequestEntityTooLarge, "too_large")
}
