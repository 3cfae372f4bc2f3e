package enrollments

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

const testCapsuleID = "cap_01jc0000000000000000000001"

// fakeRegistry serves the enrollment creation of testCapsuleID and, when
// publicURL is not empty, the capsule's protected resource metadata with
// an MCP URL under publicURL.
func fakeRegistry(t *testing.T, publicURL string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/capsules/"+testCapsuleID+"/enrollments", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"enrollment_id":"enr_01jc0000000000000000000001","token":"capsol_enr_x","expires_at":"2026-01-03T04:00:00Z"}`))
	})
	if publicURL != "" {
		mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp/"+testCapsuleID, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"resource":"` + publicURL + `/mcp/` + testCapsuleID + `"}`))
		})
	}
	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)
	return server
}

func TestCreateEnrollURL(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		// want is the expected enroll_url; an empty string stands for the
		// URL of the fake registry itself.
		want string
	}{
		{"public URL", "https://capsol.example.com", "https://capsol.example.com/enroll"},
		{"public URL with a path", "https://example.com/capsol", "https://example.com/capsol/enroll"},
		{"no metadata", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := fakeRegistry(t, tt.publicURL)
			want := tt.want
			if want == "" {
				want = server.URL + "/enroll"
			}

			var out bytes.Buffer
			opts := &CreateOptions{
				Client: client.New(server.URL, "key", nil), Printer: cmdutil.Printer{Out: &out, Format: cmdutil.FormatJSON},
				CapsuleID: testCapsuleID, Request: client.CreateEnrollmentRequest{Role: "reader"}, Server: server.URL,
			}
			if err := RunCreate(t.Context(), opts); err != nil {
				t.Fatalf("RunCreate: %v", err)
			}
			var result CreateResult
			if err := json.Unmarshal(out.Bytes(), &result); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if result.EnrollURL != want {
				t.Errorf("enroll_url %q, want %q", result.EnrollURL, want)
			}
			if result.Token != "capsol_enr_x" {
				t.Errorf("token %q, want capsol_enr_x", result.Token)
			}
		})
	}
}

func TestCreateTerminalHint(t *testing.T) {
	tests := []struct {
		name      string
		publicURL string
		wantHint  bool
	}{
		{"public URL", "https://capsol.example.com", false},
		{"no metadata", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := fakeRegistry(t, tt.publicURL)
			var out bytes.Buffer
			opts := &CreateOptions{
				Client: client.New(server.URL, "key", nil), Printer: cmdutil.Printer{Out: &out, Format: cmdutil.FormatTable},
				CapsuleID: testCapsuleID, Request: client.CreateEnrollmentRequest{Role: "reader"}, Server: server.URL,
			}
			if err := RunCreate(t.Context(), opts); err != nil {
				t.Fatalf("RunCreate: %v", err)
			}
			hint := strings.Contains(out.String(), "use the registry's public URL from other hosts")
			if hint != tt.wantHint {
				t.Errorf("hint to use the public URL shown: %v, want %v\n%s", hint, tt.wantHint, out.String())
			}
		})
	}
}
