package box

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateURIAccepts(t *testing.T) {
	valid := []string{
		"notes://design/auth",
		"notes://a",
		"x://a",
		"svn+ssh://host/path",
		"a.b-c://x",
		"notes://A-Z_a.z~0-9",
		"notes://caf%C3%A9",
		"notes://with%20space/and%2Fslash",
		"notes://...",
		"notes://.hidden/..x/x..",
		"notes://" + strings.Repeat("a", MaxURIPathBytes),
		strings.Repeat("s", MaxSchemeBytes) + "://p",
		"notes://signals/topic/id",
	}
	for _, uri := range valid {
		t.Run(uri[:min(len(uri), 40)], func(t *testing.T) {
			assert.NoError(t, ValidateURI(uri))
		})
	}
}

func TestValidateURIRejects(t *testing.T) {
	cases := []struct {
		name    string
		uri     string
		message string // a substring of the error message
	}{
		{"empty", "", `"://" is missing`},
		{"no separator", "notes:design", `"://" is missing`},
		{"empty scheme", "://a", "scheme"},
		{"uppercase scheme", "Notes://a", "lowercase"},
		{"all uppercase scheme", "NOTES://a", "lowercase"},
		{"scheme starts with digit", "1notes://a", "must start with a letter"},
		{"scheme with underscore", "my_notes://a", "contains"},
		{"scheme too long", strings.Repeat("s", MaxSchemeBytes+1) + "://p", "over the maximum"},
		{"empty path", "notes://", "path"},
		{"path too long", "notes://" + strings.Repeat("a", MaxURIPathBytes+1), "over the maximum of 480"},
		{"absolute path", "notes:///etc/passwd", `leading "/"`},
		{"file absolute", "file:///etc/passwd", `leading "/"`},
		{"dot dot", "notes://a/../b", `".."`},
		{"leading dot dot", "notes://../x", `".."`},
		{"trailing dot dot", "notes://a/..", `".."`},
		{"dot", "notes://a/./b", `"."`},
		{"encoded dot dot lowercase", "notes://a/%2e%2e/b", "encoded dot"},
		{"encoded dot dot uppercase", "notes://%2E%2E/x", "encoded dot"},
		{"half encoded dot dot", "notes://a/.%2E/b", "encoded dot"},
		{"encoded unreserved", "notes://%73ignals/x", "unreserved"},
		{"lowercase escape", "notes://caf%c3%a9", "uppercase"},
		{"incomplete escape", "notes://a%2", "incomplete escape"},
		{"bad escape", "notes://a%zz", "incomplete escape"},
		{"encoded NUL", "notes://a%00b", "control character"},
		{"encoded newline", "notes://a%0Ab", "control character"},
		{"NUL byte", "notes://a\x00b", "NUL"},
		{"backslash", `notes://a\b`, "backslash"},
		{"windows traversal", `notes://..\..\x`, "backslash"},
		{"empty segment", "notes://a//b", "empty segment"},
		{"trailing slash", "notes://a/", "empty segment"},
		{"space", "notes://a b", "percent-encode"},
		{"query", "notes://a?b", "percent-encode"},
		{"non-ASCII", "notes://café", "%C3%A9"},
		{"invalid UTF-8", "notes://a\xffb", "not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateURI(tc.uri)
			if !assert.Error(t, err) {
				return
			}
			assert.True(t, errors.Is(err, ErrInvalidURI), "error %v is not invalid_uri", err)
			assert.Equal(t, CodeInvalidURI, ErrorCode(err))
			assert.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestValidateURIQuotesLongValues(t *testing.T) {
	err := ValidateURI("notes://" + strings.Repeat("a", 10_000))
	assert.Less(t, len(err.Error()), 400)
}

func TestValidateBlobRef(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	cases := []struct {
		name  string
		ref   string
		valid bool
	}{
		{"valid", "blob:sha256:" + digest, true},
		{"missing prefix", digest, false},
		{"other algorithm", "blob:sha512:" + digest, false},
		{"uppercase hex", "blob:sha256:" + strings.ToUpper(digest), false},
		{"short", "blob:sha256:" + digest[:63], false},
		{"long", "blob:sha256:" + digest + "0", false},
		{"non-hex", "blob:sha256:" + strings.Repeat("g", 64), false},
		{"traversal", "blob:sha256:../../../../etc/passwd", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateBlobRef(tc.ref)
			if tc.valid {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, CodeInvalidURI, ErrorCode(err))
		})
	}
}
