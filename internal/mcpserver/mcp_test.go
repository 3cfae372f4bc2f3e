package mcpserver_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

func TestToolsRoundTrip(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "design notes")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	session := connect(t, d, capsuleID, writer.credential, nil)

	ctx := context.Background()
	tools, err := session.ListTools(ctx, nil)
	require.NoError(t, err)
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"capsule_info", "delete_entry", "forget", "get_blob", "list_entries", "list_signals",
		"put_blob", "read_entry", "recall", "remember", "search_entries", "send_signal", "write_entry"}, names)

	out, code := call(t, session, "write_entry", map[string]any{
		"uri": "notes://design/auth", "content": "# Auth design\n\nTokens are hashed at rest.", "tags": []string{"auth"}})
	require.Empty(t, code)
	assert.Equal(t, "notes://design/auth", out["uri"])
	assert.EqualValues(t, 1, out["version"])

	out, code = call(t, session, "read_entry", map[string]any{"uri": "notes://design/auth"})
	require.Empty(t, code)
	assert.Equal(t, "# Auth design\n\nTokens are hashed at rest.", out["content"])
	assert.Equal(t, "text/markdown", out["content_type"])
	assert.Equal(t, []any{"auth"}, out["tags"])
	assert.EqualValues(t, 1, out["version"])
	assert.Equal(t, writer.connectionID, out["updated_by"])

	_, code = call(t, session, "write_entry", map[string]any{"uri": "notes://design/auth", "content": "stale", "if_version": 7})
	assert.Equal(t, "version_conflict", code)
	out, code = call(t, session, "write_entry", map[string]any{"uri": "notes://design/auth", "content": "# Auth design v2\n\nhashed", "if_version": 1})
	require.Empty(t, code)
	assert.EqualValues(t, 2, out["version"])

	call(t, session, "write_entry", map[string]any{"uri": "notes://design/storage", "content": "# Storage\n\nAtomic renames keep files whole."})
	out, code = call(t, session, "list_entries", map[string]any{"prefix": "notes://design/"})
	require.Empty(t, code)
	entries := out["entries"].([]any)
	require.Len(t, entries, 2)
	assert.Equal(t, "notes://design/auth", entries[0].(map[string]any)["uri"])

	out, code = call(t, session, "search_entries", map[string]any{"query": "atomic renames"})
	require.Empty(t, code)
	hits := out["hits"].([]any)
	require.NotEmpty(t, hits)
	assert.Equal(t, "notes://design/storage", hits[0].(map[string]any)["uri"])

	out, code = call(t, session, "capsule_info", map[string]any{})
	require.Empty(t, code)
	assert.Equal(t, capsuleID, out["id"])
	assert.Equal(t, "design notes", out["name"])
	assert.Equal(t, "writer", out["role"])
	assert.EqualValues(t, 2, out["entry_count"])

	out, code = call(t, session, "delete_entry", map[string]any{"uri": "notes://design/storage"})
	require.Empty(t, code)
	assert.Equal(t, true, out["deleted"])
	_, code = call(t, session, "read_entry", map[string]any{"uri": "notes://design/storage"})
	assert.Equal(t, "not_found", code)

	blob := []byte("\x89PNG fake image bytes")
	out, code = call(t, session, "put_blob", map[string]any{"data_base64": base64.StdEncoding.EncodeToString(blob), "content_type": "image/png"})
	require.Empty(t, code)
	ref := out["ref"].(string)
	assert.True(t, strings.HasPrefix(ref, "blob:sha256:"), ref)
	again, _ := call(t, session, "put_blob", map[string]any{"data_base64": base64.StdEncoding.EncodeToString(blob), "content_type": "image/png"})
	assert.Equal(t, ref, again["ref"], "same bytes, same ref")
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "get_blob", Arguments: map[string]any{"ref": ref}})
	require.NoError(t, err)
	require.False(t, res.IsError)
	embedded, ok := res.Content[0].(*mcp.EmbeddedResource)
	require.True(t, ok, "get_blob returns an embedded resource")
	assert.Equal(t, blob, embedded.Resource.Blob)
	assert.Equal(t, "image/png", embedded.Resource.MIMEType)

	_, code = call(t, session, "remember", map[string]any{"key": "deploy/last", "value": "v42"})
	require.Empty(t, code)
	out, _ = call(t, session, "recall", map[string]any{"prefix": "deploy/"})
	assert.Equal(t, map[string]any{"deploy/last": "v42"}, out["values"])
	_, code = call(t, session, "forget", map[string]any{"key": "deploy/last"})
	require.Empty(t, code)
	out, _ = call(t, session, "recall", map[string]any{})
	assert.Empty(t, out["values"])

	out, code = call(t, session, "send_signal", map[string]any{"topic": "deploys", "message": "v42 is live", "ttl_seconds": 60})
	require.Empty(t, code)
	assert.True(t, strings.HasPrefix(out["uri"].(string), "notes://signals/deploys/"), out["uri"])
	out, code = call(t, session, "list_signals", map[string]any{"topic": "deploys"})
	require.Empty(t, code)
	signals := out["signals"].([]any)
	require.Len(t, signals, 1)
	assert.Equal(t, "v42 is live", signals[0].(map[string]any)["message"])
	_, code = call(t, session, "write_entry", map[string]any{"uri": "notes://signals/deploys/x", "content": "forged"})
	assert.Equal(t, "invalid_uri", code, "signals are written only by send_signal")
}

func TestReaderRoleRule(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "shared")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	reader := seedShare(t, d, capsuleID, store.RoleReader, shareOptions{})
	w := connect(t, d, capsuleID, writer.credential, nil)
	call(t, w, "write_entry", map[string]any{"uri": "notes://a", "content": "alpha"})
	r := connect(t, d, capsuleID, reader.credential, nil)

	writes := map[string]map[string]any{
		"write_entry":  {"uri": "notes://b", "content": "beta"},
		"delete_entry": {"uri": "notes://a"},
		"put_blob":     {"data_base64": "aGk=", "content_type": "text/plain"},
		"remember":     {"key": "k", "value": "v"},
		"forget":       {"key": "k"},
		"send_signal":  {"topic": "t", "message": "m"},
	}
	for tool, args := range writes {
		t.Run(tool, func(t *testing.T) {
			_, code := call(t, r, tool, args)
			assert.Equal(t, "forbidden", code)
		})
	}

	reads := map[string]map[string]any{
		"capsule_info":   {},
		"list_entries":   {},
		"read_entry":     {"uri": "notes://a"},
		"search_entries": {"query": "alpha"},
		"recall":         {},
		"list_signals":   {},
	}
	for tool, args := range reads {
		_, code := call(t, r, tool, args)
		assert.Empty(t, code, tool)
	}
	out, _ := call(t, r, "read_entry", map[string]any{"uri": "notes://a"})
	assert.Equal(t, "alpha", out["content"], "the refused delete changed nothing")
	_, code := call(t, r, "read_entry", map[string]any{"uri": "notes://b"})
	assert.Equal(t, "not_found", code, "the refused write changed nothing")
}

func TestRefusalCodes(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "guarded")
	otherCapsule := seedCapsule(t, d, "other")
	past := time.Now().Add(-time.Hour)

	active := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	revoked := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{status: store.StatusRevoked})
	paused := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{status: store.StatusPaused})
	expired := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{expiresAt: &past})
	grantRevoked := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{grant: store.StatusRevoked})
	elsewhere := seedShare(t, d, otherCapsule, store.RoleWriter, shareOptions{})
	everything := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{status: store.StatusRevoked, expiresAt: &past, grant: store.StatusRevoked})
	pausedAndExpired := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{status: store.StatusPaused, expiresAt: &past})
	grantAndPaused := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{status: store.StatusPaused, grant: store.StatusRevoked})

	badChecksum := active.credential[:len(active.credential)-1] + flip(active.credential[len(active.credential)-1])
	cases := []struct {
		name       string
		credential string
		code       string
	}{
		{"missing", "", "invalid_token"},
		{"malformed", "hello", "invalid_token"},
		{"bad checksum", badChecksum, "invalid_token"},
		{"unknown", "capsol_share_" + strings.Repeat("A", 49), "invalid_token"},
		{"other capsule", elsewhere.credential, "invalid_token"},
		{"admin key", testAdminKey, "invalid_token"},
		{"revoked", revoked.credential, "token_revoked"},
		{"grant revoked", grantRevoked.credential, "grant_revoked"},
		{"paused", paused.credential, "connection_paused"},
		{"expired", expired.credential, "token_expired"},
		{"revoked wins over all", everything.credential, "token_revoked"},
		{"grant before paused", grantAndPaused.credential, "grant_revoked"},
		{"paused before expired", pausedAndExpired.credential, "connection_paused"},
	}
	url := d.URL + "/mcp/" + capsuleID
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawInitialize(t, url, tc.credential, "2025-11-25")
			defer resp.Body.Close()
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, tc.code, body["error_code"])
			assert.NotEmpty(t, body["error"])
			assert.True(t, strings.HasPrefix(body["error_description"], tc.code+": "), body["error_description"])

			challenge := resp.Header.Get("WWW-Authenticate")
			assert.Contains(t, challenge, `Bearer error="invalid_token"`)
			assert.Contains(t, challenge, `error_description="`+tc.code+": ")
			assert.Contains(t, challenge, `resource_metadata="`+d.BaseURL+"/.well-known/oauth-protected-resource/mcp/"+capsuleID+`"`)
		})
	}

	resp := rawInitialize(t, url, active.credential, "2025-11-25")
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the active share is accepted")
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestRevokeDuringOpenSession(t *testing.T) {
	for _, status := range []string{store.StatusRevoked, store.StatusPaused} {
		t.Run(status, func(t *testing.T) {
			d := startDaemon(t)
			capsuleID := seedCapsule(t, d, "live")
			share := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
			session := connect(t, d, capsuleID, share.credential, nil)
			_, code := call(t, session, "capsule_info", map[string]any{})
			require.Empty(t, code)

			setShareStatus(t, d, share.connectionID, status)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "capsule_info", Arguments: map[string]any{}})
			require.Error(t, err, "the next call on the open session is refused")

			want := map[string]string{store.StatusRevoked: "token_revoked", store.StatusPaused: "connection_paused"}[status]
			resp := rawInitialize(t, d.URL+"/mcp/"+capsuleID, share.credential, "2025-11-25")
			defer resp.Body.Close()
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, want, body["error_code"])
		})
	}
}

func TestRevokeClosesOpenStream(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "streams")
	share := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	url := d.URL + "/mcp/" + capsuleID

	resp := rawInitialize(t, url, share.credential, "2025-11-25")
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sessionID := resp.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, sessionID)

	post := func(body string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+share.credential)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sessionID)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		r, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+share.credential)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sessionID)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, http.StatusOK, stream.StatusCode)

	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stream.Body)
		closed <- err
	}()
	select {
	case <-closed:
		t.Fatal("the stream ended before the revocation")
	case <-time.After(200 * time.Millisecond):
	}

	setShareStatus(t, d, share.connectionID, store.StatusRevoked)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the open server-to-client stream was not closed after the revocation")
	}
}

func TestAuditLogRecordsRequests(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "audited")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	reader := seedShare(t, d, capsuleID, store.RoleReader, shareOptions{})
	revoked := seedShare(t, d, capsuleID, store.RoleReader, shareOptions{status: store.StatusRevoked})

	w := connect(t, d, capsuleID, writer.credential, nil)
	call(t, w, "write_entry", map[string]any{"uri": "notes://secret/plan", "content": "TOP-SECRET-CONTENT"})
	r := connect(t, d, capsuleID, reader.credential, nil)
	call(t, r, "write_entry", map[string]any{"uri": "notes://x", "content": "nope"})
	resp := rawInitialize(t, d.URL+"/mcp/"+capsuleID, revoked.credential, "2025-11-25")
	resp.Body.Close()
	require.NoError(t, d.Registry.Close())

	dir := registry.CapsuleLogDir(d.Store, capsuleID)
	lines, err := auditlog.Read(dir, auditlog.Filter{})
	require.NoError(t, err)
	var records []map[string]any
	for _, line := range lines {
		assert.NotContains(t, string(line), "TOP-SECRET-CONTENT", "entry content is never logged")
		assert.NotContains(t, string(line), writer.credential, "credentials are never logged")
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		records = append(records, rec)
	}

	find := func(match func(map[string]any) bool) map[string]any {
		for _, rec := range records {
			if match(rec) {
				return rec
			}
		}
		return nil
	}
	write := find(func(r map[string]any) bool {
		return r["tool"] == "write_entry" && r["connection_id"] == writer.connectionID
	})
	require.NotNil(t, write)
	assert.Equal(t, "ok", write["outcome"])
	assert.Equal(t, "tools/call", write["method"])
	assert.Equal(t, "notes://secret/plan", write["uri"])
	assert.Equal(t, "share", write["kind"])
	assert.Equal(t, "127.0.0.1", write["remote_addr"])
	for _, key := range []string{"ts", "principal_id", "error_code", "duration_ms", "prev"} {
		assert.Contains(t, write, key)
	}

	denied := find(func(r map[string]any) bool {
		return r["tool"] == "write_entry" && r["connection_id"] == reader.connectionID
	})
	require.NotNil(t, denied)
	assert.Equal(t, "denied", denied["outcome"])
	assert.Equal(t, "forbidden", denied["error_code"])

	refused := find(func(r map[string]any) bool { return r["connection_id"] == revoked.connectionID })
	require.NotNil(t, refused)
	assert.Equal(t, "denied", refused["outcome"])
	assert.Equal(t, "token_revoked", refused["error_code"])

	assert.Nil(t, find(func(r map[string]any) bool { return r["method"] == "ping" }))
	report, err := auditlog.Verify(dir)
	require.NoError(t, err)
	assert.True(t, report.OK, "%+v", report.Break)
}

func TestAuditChainUnderConcurrentWriters(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "busy")
	const agents = 4
	const callsEach = 15

	var wg sync.WaitGroup
	for a := 0; a < agents; a++ {
		share := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
		session := connect(t, d, capsuleID, share.credential, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < callsEach; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "write_entry",
					Arguments: map[string]any{"uri": fmt.Sprintf("notes://agent%d/n%d", a, i), "content": "x"}})
				cancel()
				if !assert.NoError(t, err) || !assert.False(t, res.IsError) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, d.Registry.Close())

	dir := registry.CapsuleLogDir(d.Store, capsuleID)
	report, err := auditlog.Verify(dir)
	require.NoError(t, err)
	require.True(t, report.OK, "%+v", report.Break)
	require.GreaterOrEqual(t, report.Lines, agents*callsEach)

	// Edit one line in the middle: the chain breaks on the line after it.
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	data, err := os.ReadFile(files[0])
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	const edited = 10
	lines[edited-1] = strings.Replace(lines[edited-1], `"outcome":"ok"`, `"outcome":"error"`, 1)
	require.NoError(t, os.WriteFile(files[0], []byte(strings.Join(lines, "\n")+"\n"), 0o600))

	report, err = auditlog.Verify(dir)
	require.NoError(t, err)
	require.False(t, report.OK)
	require.NotNil(t, report.Break)
	assert.Equal(t, filepath.Base(files[0]), report.Break.File)
	assert.Equal(t, edited+1, report.Break.Line)
}

func TestBadInputTouchesNothingOutsideBox(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "strict")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	session := connect(t, d, capsuleID, writer.credential, nil)
	before := listTree(t, d.Config.DataDir)

	badURIs := map[string]string{
		"dot-dot":         "notes://a/../../../../etc/passwd",
		"encoded dot-dot": "notes://a/%2e%2e/%2e%2e/escape",
		"absolute path":   "/etc/passwd",
		"file scheme":     "file:///etc/passwd",
		"NUL byte":        "notes://a\x00b",
		"over-long":       "notes://" + strings.Repeat("a", 600),
		"empty segment":   "notes://a//b",
		"backslash":       `notes://a\..\b`,
		"no path":         "notes://",
	}
	for name, uri := range badURIs {
		t.Run(name, func(t *testing.T) {
			_, code := call(t, session, "write_entry", map[string]any{"uri": uri, "content": "x"})
			assert.Equal(t, "invalid_uri", code)
			_, code = call(t, session, "read_entry", map[string]any{"uri": uri})
			assert.Contains(t, []string{"invalid_uri", "not_found"}, code)
		})
	}
	_, code := call(t, session, "write_entry", map[string]any{"uri": "notes://big", "content": strings.Repeat("x", 1<<20+1)})
	assert.Equal(t, "too_large", code)
	_, code = call(t, session, "get_blob", map[string]any{"ref": "blob:sha256:../../etc"})
	assert.NotEmpty(t, code)
	_, code = call(t, session, "put_blob", map[string]any{"data_base64": "!!!not base64", "content_type": "text/plain"})
	assert.Equal(t, "invalid_request", code)

	after := listTree(t, d.Config.DataDir)
	for path := range after {
		if before[path] {
			continue
		}
		assert.True(t, strings.HasPrefix(path, filepath.Join("boxes", capsuleID, ".capsol")+string(filepath.Separator)),
			"file created outside the capsule's box: %s", path)
	}
	assert.NotContains(t, after, filepath.Join("boxes", capsuleID, ".capsol", "entries", "big"))
}

func listTree(t *testing.T, root string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	require.NoError(t, filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[rel] = true
		return nil
	}))
	return files
}

func TestBadHTTPRequests(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "strict")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})

	for _, id := range []string{"not-an-id", "cap_..", "..%2f..%2fmeta.json", "%2e%2e", "CAP_01HQ3Z9X8K7M6N5P4R3S2T1V0W", "cap_01hq3z9x8k7m6n5p4r3s2t1v0w"} {
		resp := rawInitialize(t, d.URL+"/mcp/"+id, writer.credential, "2025-11-25")
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, id)
	}

	post := func(body string, contentLength int64) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, d.URL+"/mcp/"+capsuleID, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+writer.credential)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if contentLength >= 0 {
			req.ContentLength = contentLength
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp
	}
	resp := post(`{"jsonrpc":"2.0","id":1,"method":`, -1)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "malformed JSON-RPC")
	for _, body := range []string{`{"hello":"world"}`, `[1,2,3]`, `{"jsonrpc":"2.0","method":"tools/list"`, "\x00\x01"} {
		resp = post(body, -1)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "not JSON-RPC: %q", body)
	}

	big := strings.Repeat("x", 21<<20)
	resp = post(big, int64(len(big)))
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, "too_large", body["error_code"])
}

func TestResourcesListReadSubscribe(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "resources")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})

	b, err := d.Registry.Box(capsuleID)
	require.NoError(t, err)
	const total = 620
	for i := 0; i < total; i++ {
		_, err := b.WriteEntry(boxWrite(fmt.Sprintf("notes://bulk/%04d", i), fmt.Sprintf("# Entry %d\n\nbody", i)))
		require.NoError(t, err)
	}
	_, err = b.WriteEntry(boxWrite("docs://guide/intro", "# Intro\n\nWelcome."))
	require.NoError(t, err)

	updates := make(chan string, 10)
	session := connect(t, d, capsuleID, writer.credential, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			updates <- req.Params.URI
		},
	})
	ctx := context.Background()

	var uris []string
	pages := 0
	for res, err := range session.Resources(ctx, nil) {
		require.NoError(t, err)
		uris = append(uris, res.URI)
		if len(uris)%500 == 1 {
			pages++
		}
	}
	assert.Len(t, uris, total+1)
	assert.Greater(t, pages, 1, "resources/list is paginated")
	assert.Contains(t, uris, "docs://guide/intro")

	templates, err := session.ListResourceTemplates(ctx, nil)
	require.NoError(t, err)
	require.Len(t, templates.ResourceTemplates, 1)
	assert.Equal(t, "notes://{+path}", templates.ResourceTemplates[0].URITemplate)

	read, err := session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "notes://bulk/0007"})
	require.NoError(t, err)
	assert.Equal(t, "# Entry 7\n\nbody", read.Contents[0].Text)
	read, err = session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "docs://guide/intro"})
	require.NoError(t, err)
	assert.Equal(t, "# Intro\n\nWelcome.", read.Contents[0].Text)
	_, err = session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "notes://missing"})
	assert.Error(t, err)

	require.NoError(t, session.Subscribe(ctx, &mcp.SubscribeParams{URI: "notes://bulk/0007"}))
	other := connect(t, d, capsuleID, writer.credential, nil)
	call(t, other, "write_entry", map[string]any{"uri": "notes://bulk/0007", "content": "changed"})
	select {
	case uri := <-updates:
		assert.Equal(t, "notes://bulk/0007", uri)
	case <-time.After(5 * time.Second):
		t.Fatal("no notifications/resources/updated after the entry changed")
	}
}

func TestAuditFailureIsCountedNotSilent(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "unloggable")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})

	// A regular file where the log directory belongs makes every append
	// fail, for root too.
	logDir := registry.CapsuleLogDir(d.Store, capsuleID)
	require.NoError(t, os.MkdirAll(filepath.Dir(logDir), 0o700))
	require.NoError(t, os.WriteFile(logDir, []byte("not a directory"), 0o600))

	session := connect(t, d, capsuleID, writer.credential, nil)
	_, code := call(t, session, "write_entry", map[string]any{"uri": "notes://still/works", "content": "x"})
	assert.Empty(t, code, "a failing audit log does not fail the agent's call")

	resp, err := http.Get(d.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var failures float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `capsol_audit_append_failures_total{log="capsule"}`) {
			_, err := fmt.Sscanf(strings.Fields(line)[1], "%g", &failures)
			require.NoError(t, err)
		}
	}
	assert.GreaterOrEqual(t, failures, 2.0, "initialize and the tool call each count one failure")
}

func TestSchemaRejectionAuditedWithCode(t *testing.T) {
	d := startDaemon(t)
	capsuleID := seedCapsule(t, d, "schema")
	writer := seedShare(t, d, capsuleID, store.RoleWriter, shareOptions{})
	session := connect(t, d, capsuleID, writer.credential, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "write_entry",
		Arguments: map[string]any{"uri": "notes://a", "content": "x", "colour": "blue"}})
	require.NoError(t, err)
	require.True(t, res.IsError, "an unknown argument is rejected by the tool's schema")
	require.NoError(t, d.Registry.Close())

	lines, err := auditlog.Read(registry.CapsuleLogDir(d.Store, capsuleID), auditlog.Filter{})
	require.NoError(t, err)
	found := false
	for _, line := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		if rec["tool"] == "write_entry" {
			found = true
			assert.Equal(t, "error", rec["outcome"])
			assert.Equal(t, "invalid_request", rec["error_code"])
		}
	}
	assert.True(t, found, "the rejected call has an audit line")
}
