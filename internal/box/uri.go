package box

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of the entry URI grammar <scheme>://<path>.
const (
	MaxSchemeBytes  = 32
	MaxURIPathBytes = 480
)

// signalPrefix is the part of the URI space that only SendSignal writes.
const signalPrefix = "notes://signals/"

// blobRefPrefix starts every blob ref. The rest is 64 lowercase hex digits of
// the SHA-256 of the blob's bytes.
const blobRefPrefix = "blob:sha256:"

// ValidateURI returns an invalid_uri *Error unless uri is an entry URI
// <scheme>://<path>. The scheme matches [a-z][a-z0-9+.-]{0,31}. The path is
// 1–480 bytes of segments separated by "/", each made of RFC 3986 unreserved
// characters (A–Z a–z 0–9 - . _ ~) and %XX escapes.
//
// Each URI has one spelling, so that no two URIs name the same entry and no
// escape can smuggle a "." or ".." segment past the check. That means:
//   - Empty, "." and ".." segments are rejected, and so is a leading "/".
//   - An escape must not encode an unreserved character, so %2E%2E is
//     rejected.
//   - An escape must not encode a control character such as NUL.
//   - Hex digits in escapes are uppercase.
func ValidateURI(uri string) error {
	scheme, path, found := strings.Cut(uri, "://")
	if !found {
		return invalidURI(uri, `"://" is missing; write the URI as <scheme>://<path>, such as notes://design/auth`)
	}
	if reason := checkScheme(scheme); reason != "" {
		return invalidURI(uri, reason)
	}
	if reason := checkPath(path); reason != "" {
		return invalidURI(uri, reason)
	}
	return nil
}

func invalidURI(uri, reason string) *Error {
	return newError(CodeInvalidURI, "invalid URI %s: %s", quote(uri), reason)
}

func checkScheme(scheme string) string {
	if scheme == "" {
		return `the scheme before "://" is empty; start the URI with a scheme such as notes://`
	}
	if len(scheme) > MaxSchemeBytes {
		return fmt.Sprintf("the scheme is %d bytes, over the maximum of %d", len(scheme), MaxSchemeBytes)
	}
	if scheme != strings.ToLower(scheme) {
		return fmt.Sprintf("the scheme %s contains uppercase letters; write it in lowercase", quote(scheme))
	}
	if scheme[0] < 'a' || scheme[0] > 'z' {
		return fmt.Sprintf("the scheme %s must start with a letter a–z", quote(scheme))
	}
	for i := 1; i < len(scheme); i++ {
		c := scheme[i]
		if !isLowerAlnum(c) && c != '+' && c != '.' && c != '-' {
			return fmt.Sprintf("the scheme %s contains %s; use only a–z, 0–9, \"+\", \".\" and \"-\"",
				quote(scheme), quote(string(c)))
		}
	}
	return ""
}

func checkPath(path string) string {
	if path == "" {
		return `the path after "://" is empty; name the entry, as in notes://design/auth`
	}
	if len(path) > MaxURIPathBytes {
		return fmt.Sprintf("the path is %d bytes, over the maximum of %d; use a shorter path", len(path), MaxURIPathBytes)
	}
	if path[0] == '/' {
		return `the path starts with "/"; entry paths are relative to the capsule, so remove the leading "/"`
	}
	for segment := range strings.SplitSeq(path, "/") {
		if reason := checkSegment(segment); reason != "" {
			return reason
		}
	}
	return ""
}

func checkSegment(segment string) string {
	switch segment {
	case "":
		return `the path contains an empty segment ("//" or a trailing "/"); remove the extra "/"`
	case ".", "..":
		return fmt.Sprintf(`the path contains the segment %q; "." and ".." segments are not allowed`, segment)
	}

	for i := 0; i < len(segment); i++ {
		c := segment[i]
		switch {
		case isUnreserved(c):
			continue
		case c == '%':
			if reason := checkEscape(segment[i:]); reason != "" {
				return reason
			}
			i += 2
		case c == 0:
			return "the path contains a NUL byte; remove it"
		case c == '\\':
			return `the path contains a backslash; separate segments with "/"`
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(segment[i:])
			if r == utf8.RuneError && size == 1 {
				return fmt.Sprintf("the path contains the byte 0x%02X, which is not valid UTF-8; remove it", c)
			}
			return fmt.Sprintf("the path contains %q; percent-encode its UTF-8 bytes as %s",
				r, percentEncode(segment[i:i+size]))
		default:
			return fmt.Sprintf("the path contains %s; percent-encode it as %%%02X", quote(string(c)), c)
		}
	}
	return ""
}

// checkEscape checks the %XX escape at the start of s.
func checkEscape(s string) string {
	if len(s) < 3 || !isHex(s[1]) || !isHex(s[2]) {
		return fmt.Sprintf("the path contains an incomplete escape %s; write %% as %%25", quote(s[:min(len(s), 3)]))
	}
	escape := s[:3]
	decoded := hexValue(s[1])<<4 | hexValue(s[2])
	switch {
	case decoded == '.':
		return fmt.Sprintf(`the escape %s encodes "."; encoded dot segments are not allowed, and other dots are written as "."`, escape)
	case isUnreserved(decoded):
		return fmt.Sprintf("the escape %s encodes the unreserved character %q; write %q instead", escape, decoded, decoded)
	case decoded < 0x20 || decoded == 0x7f:
		return fmt.Sprintf("the escape %s encodes a control character; remove it", escape)
	case escape != strings.ToUpper(escape):
		return fmt.Sprintf("the escape %s has lowercase hex digits; write it in uppercase as %s", escape, strings.ToUpper(escape))
	}
	return ""
}

// ValidateBlobRef returns an invalid_uri *Error unless ref is
// blob:sha256:<64 lowercase hex digits>.
func ValidateBlobRef(ref string) error {
	digest, found := strings.CutPrefix(ref, blobRefPrefix)
	if !found {
		return newError(CodeInvalidURI, "invalid blob ref %s: it must start with %q; pass the ref that put_blob returned",
			quote(ref), blobRefPrefix)
	}
	if len(digest) != 64 {
		return newError(CodeInvalidURI, "invalid blob ref %s: the digest has %d characters, expected 64 hex digits",
			quote(ref), len(digest))
	}
	for i := 0; i < len(digest); i++ {
		c := digest[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return newError(CodeInvalidURI, "invalid blob ref %s: the digest must be lowercase hex digits 0–9 a–f",
				quote(ref))
		}
	}
	return nil
}

// isSignalURI reports whether uri lies in the part of the URI space that is
// reserved for signals.
func isSignalURI(uri string) bool {
	return strings.HasPrefix(uri, signalPrefix)
}

func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func isLowerAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

func isUnreserved(c byte) bool {
	return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
