// Package secret creates and checks capsol's prefixed credentials and holds
// the helpers that keep them out of storage and timing side channels.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"strings"
)

// Credential prefixes. Secret scanners match on them, so they never change.
const (
	PrefixAdmin      = "capsol_admin_"
	PrefixShare      = "capsol_share_"
	PrefixEnroll     = "capsol_enroll_"
	PrefixAccess     = "capsol_at_"
	PrefixRefresh    = "capsol_rt_"
	PrefixInvite     = "capsol_inv_"
	randomBytes      = 32
	bodyLength       = 43 // 62^43 > 2^256, so 32 bytes always fit in 43 base62 digits
	checksumLength   = 6  // 62^6 > 2^32
	base62Characters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

var knownPrefixes = []string{PrefixAdmin, PrefixShare, PrefixEnroll, PrefixAccess, PrefixRefresh, PrefixInvite}

// NewToken returns prefix, 32 random bytes in base62 and a base62 CRC-32 of
// everything before it.
func NewToken(prefix string) string {
	raw := make([]byte, randomBytes)
	if _, err := rand.Read(raw); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	body := encodeBase62(new(big.Int).SetBytes(raw), bodyLength)
	return prefix + body + checksum(prefix+body)
}

// CheckToken reports whether token carries the expected prefix, the right
// length, only base62 characters and a matching checksum. It needs no store
// lookup, so a mistyped or truncated token is rejected cheaply.
func CheckToken(token, prefix string) bool {
	if !strings.HasPrefix(token, prefix) {
		return false
	}
	rest := token[len(prefix):]
	if len(rest) != bodyLength+checksumLength {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62Characters, rest[i]) < 0 {
			return false
		}
	}
	body, sum := rest[:bodyLength], rest[bodyLength:]
	return subtle.ConstantTimeCompare([]byte(sum), []byte(checksum(prefix+body))) == 1
}

// PrefixOf returns the known credential prefix of token, or "".
func PrefixOf(token string) string {
	for _, p := range knownPrefixes {
		if strings.HasPrefix(token, p) {
			return p
		}
	}
	return ""
}

// Hash returns the lowercase hex SHA-256 of a credential, the only form in
// which credentials are stored.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares two secrets in constant time.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func checksum(s string) string {
	return encodeBase62(new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s)))), checksumLength)
}

func encodeBase62(n *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62Characters[mod.Int64()]
	}
	return string(out)
}
