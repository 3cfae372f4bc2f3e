package oauth

import (
	"sync"
	"time"

	"github.com/capsol/capsol/internal/secret"
)

// authCode is an issued authorization code. Codes live in memory only: a
// code lives a minute, and a daemon restart just makes the client run the
// flow again.
type authCode struct {
	grantID       string
	clientID      string
	redirectURI   string
	codeChallenge string
	resource      string
	expiresAt     time.Time
	used          bool
	connectionID  string // the token family issued from this code, for replay revocation
}

type codeStore struct {
	mu    sync.Mutex
	codes map[string]*authCode // by SHA-256 of the code
}

func newCodeStore() *codeStore {
	return &codeStore{codes: map[string]*authCode{}}
}

// issue stores a new code and returns it.
func (s *codeStore) issue(c authCode, now time.Time) string {
	code := secret.NewToken("capsol_code_")
	s.mu.Lock()
	defer s.mu.Unlock()
	for hash, existing := range s.codes {
		if now.After(existing.expiresAt.Add(codeTTL)) {
			delete(s.codes, hash)
		}
	}
	s.codes[secret.Hash(code)] = &c
	return code
}

// take returns the code's record and whether this is its first use. The
// record is kept after use, so a replay can be detected and met by
// revoking what the first use issued.
func (s *codeStore) take(code string) (*authCode, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[secret.Hash(code)]
	if !ok {
		return nil, false
	}
	first := !c.used
	c.used = true
	return c, first
}

func (s *codeStore) setConnection(code, connectionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.codes[secret.Hash(code)]; ok {
		c.connectionID = connectionID
	}
}
