// Package signin signs operators in to the dashboard and the /v1 API: OIDC
// sign-in with invites, break-glass sign-in with the admin key, the
// capsol_session cookie, CSRF tokens, and invite email. It never stores a
// session id, CSRF token or invite token in clear, and it never logs one.
package signin

import (
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/registry"
)

// SessionCookie is the dashboard session cookie, shared with the OAuth
// consent page.
const SessionCookie = "capsol_session"

// CSRFHeader and CSRFField carry the session's CSRF token on
// state-changing requests: the header for API calls, the form field for
// dashboard forms.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// BreakGlassMaxAge is how long the browser keeps a break-glass session
// cookie. The server ends such a session at once when the admin key
// changes, because the cookie value is the key's SHA-256.
const BreakGlassMaxAge = 12 * time.Hour

// Service signs operators in and resolves their sessions.
type Service struct {
	Registry *registry.Registry
	AdminKey *keys.AdminKey
	Cipher   *registry.SettingsCipher
	Logger   *slog.Logger

	// HTTPClient calls the identity provider. It must have a timeout.
	HTTPClient *http.Client

	// stateKey signs the short-lived OIDC state cookie.
	stateKey []byte

	providersMu sync.Mutex
	providers   map[string]cachedProvider
}

type cachedProvider struct {
	provider  *oidc.Provider
	fetchedAt time.Time
}

// New returns the sign-in service of a registry. secretMaterial is the
// secret key, from which the key that signs OIDC state cookies is derived.
func New(reg *registry.Registry, adminKey *keys.AdminKey, cipher *registry.SettingsCipher, secretMaterial []byte, logger *slog.Logger) *Service {
	mac := hmac.New(sha256.New, secretMaterial)
	mac.Write([]byte("capsol oidc state cookie v1"))
	return &Service{
		Registry: reg, AdminKey: adminKey, Cipher: cipher, Logger: logger,
		HTTPClient: &http.Client{Timeout: 15 * time.Second},
		stateKey:   mac.Sum(nil),
		providers:  map[string]cachedProvider{},
	}
}

// Secure reports whether cookies get the Secure attribute: when the public
// URL is https.
func (s *Service) Secure() bool {
	return strings.HasPrefix(s.Registry.BaseURL, "https://")
}

// Identify returns the dashboard session of a request, if it has one that
// is still valid. A cookie equal to the SHA-256 of the current admin key is
// a break-glass session with the admin role.
func (s *Service) Identify(r *http.Request) (registry.Session, bool) {
	cookie, err := r.Cookie(SessionCookie)
	if err != nil || cookie.Value == "" {
		return registry.Session{}, false
	}
	if s.AdminKey != nil && hmac.Equal([]byte(cookie.Value), []byte(s.AdminKey.SessionValue())) {
		return registry.Session{
			Actor: registry.ActorAdminKey, Role: registry.OperatorAdmin, BreakGlass: true,
			CSRFToken: registry.CSRFToken(cookie.Value),
		}, true
	}
	return s.Registry.LookupSession(cookie.Value)
}

// HasSessionCookie reports whether a request carries a session cookie at
// all, valid or not, to tell "signed out" from "session ended".
func HasSessionCookie(r *http.Request) bool {
	cookie, err := r.Cookie(SessionCookie)
	return err == nil && cookie.Value != ""
}

// CheckCSRF reports whether token is the CSRF token of session, in
// constant time.
func CheckCSRF(session registry.Session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(session.CSRFToken))
}

// Approver returns the actor of a signed-in admin or approver, for the
// OAuth consent page.
func (s *Service) Approver(r *http.Request) (string, bool) {
	session, ok := s.Identify(r)
	if !ok || !registry.RoleAllows(session.Role, registry.OperatorApprover) {
		return "", false
	}
	return session.Actor, true
}

// setSessionCookie writes the session cookie: HttpOnly, SameSite=Strict,
// and Secure when the public URL is https. maxAge zero makes it a browser
// session cookie, below zero deletes it.
func (s *Service) setSessionCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	cookie := &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.Secure(),
	}
	switch {
	case maxAge > 0:
		cookie.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		cookie.MaxAge = -1
	}
	http.SetCookie(w, cookie)
}

// BreakGlass signs in with the admin key: a correct key gets the session
// cookie whose value is the key's SHA-256, and the sign-in is written to
// the registry audit as break-glass. It reports whether the key matched.
func (s *Service) BreakGlass(w http.ResponseWriter, r *http.Request, adminKey string) bool {
	if s.AdminKey == nil || adminKey == "" || !s.AdminKey.Verify(adminKey) {
		s.Logger.Warn("break-glass sign-in rejected: the admin key does not match", "remote_addr", remoteAddr(r))
		return false
	}
	s.setSessionCookie(w, s.AdminKey.SessionValue(), BreakGlassMaxAge)
	s.Registry.AuditRegistry(auditlog.RegistryRecord{
		Actor: registry.ActorAdminKey, Action: auditlog.ActionBreakGlass, RemoteAddr: remoteAddr(r),
	})
	s.Logger.Info("break-glass sign-in with the admin key", "remote_addr", remoteAddr(r))
	return true
}

// SignOut ends the request's session and deletes the cookie. A
// break-glass session only loses its cookie, because it ends when the
// admin key changes.
func (s *Service) SignOut(w http.ResponseWriter, r *http.Request) {
	session, ok := s.Identify(r)
	if cookie, err := r.Cookie(SessionCookie); err == nil && ok && !session.BreakGlass {
		if err := s.Registry.DeleteSession(cookie.Value); err != nil {
			s.Logger.Error("cannot delete a dashboard session on sign-out", "operator_id", session.OperatorID, "error", err)
		}
	}
	if ok {
		s.Registry.AuditRegistry(auditlog.RegistryRecord{Actor: session.Actor, Action: "sign-out", RemoteAddr: remoteAddr(r)})
	}
	s.setSessionCookie(w, "", -1)
}

// remoteAddr returns the peer address without the port. X-Forwarded-For is
// not used, because without a list of trusted proxies any client could set
// it.
func remoteAddr(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndexByte(addr, ':'); i > 0 {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}
