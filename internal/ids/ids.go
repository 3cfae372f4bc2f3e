// Package ids creates and checks the public identifiers of capsol objects:
// a type prefix and a ULID in lowercase Crockford base32, such as
// cap_01j9z3k4m5n6p7q8r9s0t1v2w3.
package ids

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of each object kind.
const (
	Capsule    = "cap_"
	Connection = "con_"
	Principal  = "prn_"
	Grant      = "grt_"
	Operator   = "op_"
	Invite     = "inv_"
	Enrollment = "enr_"
)

// New returns a fresh identifier with the given prefix.
func New(prefix string) string {
	id := ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader)
	return prefix + strings.ToLower(id.String())
}

// Valid reports whether s is prefix followed by exactly 26 lowercase
// Crockford base32 characters. It is the check every URL parameter passes
// before it may name a file or an index record.
func Valid(prefix, s string) bool {
	if !strings.HasPrefix(s, prefix) {
		return false
	}
	rest := s[len(prefix):]
	if len(rest) != ulid.EncodedSize {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !isCrockford(rest[i]) {
			return false
		}
	}
	// The first character encodes the top bits of a 48-bit timestamp, so
	// values above 7 overflow and are not ULIDs.
	return rest[0] <= '7'
}

func isCrockford(c byte) bool {
	switch {
	case c >= '0' && c <= '9':
		return true
	case c >= 'a' && c <= 'z':
		return c != 'i' && c != 'l' && c != 'o' && c != 'u'
	}
	return false
}
