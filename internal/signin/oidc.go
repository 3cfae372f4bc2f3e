package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/registry"
)

// Paths of the OIDC sign-in.
const (
	LoginPath    = "/auth/oidc/login"
	CallbackPath = "/auth/oidc/callback"
)

// StateCookie carries the state, nonce and PKCE verifier of one OIDC
// sign-in from the redirect to the identity provider to the callback. The
// callback is a navigation from another site, so the cookie is
// SameSite=Lax; it holds no session and lives for StateTTL.
const (
	StateCookie = "capsol_oidc"
	StateTTL    = 10 * time.Minute
)

// providerTTL is how long a discovered provider configuration is reused.
const providerTTL = time.Hour

// Codes of failed sign-ins, shown on the error page and in the daemon log.
const (
	CodeOIDCNotConfigured = "oidc_not_configured"
	CodeOIDCFailed        = "oidc_failed"
	CodeStateMismatch     = "oidc_state_mismatch"
	CodeEmailNotVerified  = "email_not_verified"
	CodeNotAnOperator     = "not_an_operator"
	CodeOperatorDisabled  = "operator_disabled"
	CodeInviteInvalid     = "invite_invalid"
)

// LoginError is a failed sign-in, shown to the person on a page. Message
// tells what happened and what to do next.
type LoginError struct {
	Status  int
	Code    string
	Title   string
	Message string
}

func (e *LoginError) Error() string { return e.Code + ": " + e.Message }

// LoginResult is a completed OIDC sign-in.
type LoginResult struct {
	Operator registry.Operator
	// Next is the local path to continue to.
	Next string
	// Invited is set when the sign-in accepted an invite.
	Invited bool
}

// loginState is the content of the state cookie.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	// InviteID is the invite whose link started the sign-in. The cookie is
	// signed, so it cannot be changed to another invite.
	InviteID string `json:"i,omitempty"`
	Next     string `json:"x,omitempty"`
	Expires  int64  `json:"e"`
}

// OIDCConfigured reports whether issuer, client id and a readable client
// secret are set.
func (s *Service) OIDCConfigured() bool {
	_, ok, err := s.Registry.OIDCSettings(s.Cipher)
	return ok && err == nil
}

// oauthConfig returns the OAuth 2.0 client and the provider of the
// configured identity provider, discovering it on first use.
func (s *Service) oauthConfig(ctx context.Context) (*oauth2.Config, *oidc.Provider, *registry.OIDCConfig, *LoginError) {
	cfg, ok, err := s.Registry.OIDCSettings(s.Cipher)
	if errors.Is(err, registry.ErrUnreadable) {
		return nil, nil, nil, &LoginError{Status: http.StatusServiceUnavailable, Code: CodeOIDCNotConfigured, Title: "Sign-in is not available",
			Message: "The OIDC client secret can no longer be decrypted because the secret key changed. An admin must sign in with the admin key and re-enter it under Settings."}
	}
	if !ok {
		return nil, nil, nil, &LoginError{Status: http.StatusServiceUnavailable, Code: CodeOIDCNotConfigured, Title: "Sign-in is not configured",
			Message: "No identity provider is configured. An admin can set the OIDC issuer, client id and client secret under Settings after signing in with the admin key."}
	}
	provider, err := s.provider(ctx, cfg.Issuer)
	if err != nil {
		s.Logger.Error("OIDC discovery failed", "issuer", cfg.Issuer, "error", err)
		return nil, nil, nil, &LoginError{Status: http.StatusBadGateway, Code: CodeOIDCFailed, Title: "Identity provider unreachable",
			Message: fmt.Sprintf("The identity provider %s could not be reached or returned an invalid configuration. Try again later, or use the admin key to sign in.", cfg.Issuer)}
	}
	return &oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: strings.TrimRight(s.Registry.BaseURL, "/") + CallbackPath,
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}, provider, &cfg, nil
}

// provider returns the discovered provider of issuer, cached for
// providerTTL.
func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.providersMu.Lock()
	cached, ok := s.providers[issuer]
	s.providersMu.Unlock()
	now := time.Now()
	if ok && now.Sub(cached.fetchedAt) < providerTTL {
		return cached.provider, nil
	}

	// The provider keeps this context for later key set fetches, so it
	// must not be the request's.
	clientCtx := oidc.ClientContext(context.WithoutCancel(ctx), s.HTTPClient)
	provider, err := oidc.NewProvider(clientCtx, issuer)
	if err != nil {
		return nil, err
	}
	s.providersMu.Lock()
	s.providers[issuer] = cachedProvider{provider: provider, fetchedAt: now}
	s.providersMu.Unlock()
	return provider, nil
}

// StartLogin sets the state cookie and returns the identity provider's
// authorization URL. inviteID names the invite whose link started the
// sign-in, or is empty; next is the local path to continue to.
func (s *Service) StartLogin(ctx context.Context, w http.ResponseWriter, inviteID, next string) (string, *LoginError) {
	config, _, _, lerr := s.oauthConfig(ctx)
	if lerr != nil {
		return "", lerr
	}
	state := loginState{
		State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
		InviteID: inviteID, Next: SafeNext(next), Expires: time.Now().Add(StateTTL).Unix(),
	}
	http.SetCookie(w, &http.Cookie{
		Name: StateCookie, Value: s.encodeState(state), Path: "/auth/oidc/", MaxAge: int(StateTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.Secure(),
	})
	return config.AuthCodeURL(state.State, oauth2.S256ChallengeOption(state.Verifier), oidc.Nonce(state.Nonce)), nil
}

// FinishLogin completes the sign-in on the callback: it checks state,
// exchanges the code with the PKCE verifier, verifies the ID token and its
// nonce, requires a verified email, accepts the invite or finds the
// operator, and sets the session cookie.
func (s *Service) FinishLogin(ctx context.Context, w http.ResponseWriter, r *http.Request) (LoginResult, *LoginError) {
	state, ok := s.readState(r)
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.Secure()})
	q := r.URL.Query()
	if idpError := q.Get("error"); idpError != "" {
		return LoginResult{}, &LoginError{Status: http.StatusForbidden, Code: CodeOIDCFailed, Title: "Sign-in was not completed",
			Message: fmt.Sprintf("The identity provider returned %q: %s. Try again, or ask an admin.", idpError, q.Get("error_description"))}
	}
	if !ok || !hmac.Equal([]byte(q.Get("state")), []byte(state.State)) {
		return LoginResult{}, &LoginError{Status: http.StatusBadRequest, Code: CodeStateMismatch, Title: "Sign-in expired",
			Message: "This sign-in link is expired or was opened in another browser. Start again from the sign-in page."}
	}

	config, provider, cfg, lerr := s.oauthConfig(ctx)
	if lerr != nil {
		return LoginResult{}, lerr
	}
	claims, lerr := s.verifiedClaims(ctx, config, provider, cfg.ClientID, q.Get("code"), state)
	if lerr != nil {
		return LoginResult{}, lerr
	}

	op, lerr := s.operatorFor(claims, state.InviteID, r)
	if lerr != nil {
		s.Logger.Info("OIDC sign-in refused", "error_code", lerr.Code, "invite_id", state.InviteID, "remote_addr", remoteAddr(r))
		return LoginResult{}, lerr
	}
	session, err := s.Registry.CreateSession(op.ID)
	if err != nil {
		s.Logger.Error("cannot create a dashboard session", "operator_id", op.ID, "error", err)
		return LoginResult{}, &LoginError{Status: http.StatusInternalServerError, Code: "internal", Title: "Sign-in failed",
			Message: "The session could not be stored; the daemon log has the details."}
	}
	s.setSessionCookie(w, session.CookieValue, registry.SessionMaxAge)
	s.Registry.AuditRegistry(auditlog.RegistryRecord{
		Actor: op.ID, Action: "sign-in", Target: op.ID, RemoteAddr: remoteAddr(r),
		Details: map[string]any{"method": "oidc", "role": session.Role},
	})
	s.Logger.Info("operator signed in", "operator_id", op.ID, "role", session.Role, "remote_addr", remoteAddr(r))
	return LoginResult{Operator: op, Next: state.Next, Invited: state.InviteID != ""}, nil
}

// idClaims are the ID token claims a sign-in uses. email_verified is a
// boolean in the OIDC core spec, but some providers send the string
// "true".
type idClaims struct {
	Email             string          `json:"email"`
	EmailVerified     json.RawMessage `json:"email_verified"`
	Name              string          `json:"name"`
	PreferredUsername string          `json:"preferred_username"`
}

func (c idClaims) verified() bool {
	v := strings.TrimSpace(string(c.EmailVerified))
	return v == "true" || v == `"true"`
}

func (s *Service) verifiedClaims(ctx context.Context, config *oauth2.Config, provider *oidc.Provider, clientID, code string, state loginState) (idClaims, *LoginError) {
	failed := func(what string, err error) (idClaims, *LoginError) {
		s.Logger.Error("OIDC sign-in failed", "step", what, "error", err)
		return idClaims{}, &LoginError{Status: http.StatusBadGateway, Code: CodeOIDCFailed, Title: "Sign-in failed",
			Message: "The identity provider's answer could not be verified (" + what + "). Start again from the sign-in page; if it keeps failing, an admin should check the OIDC settings."}
	}
	if code == "" {
		return failed("no authorization code", errors.New("callback without code"))
	}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.HTTPClient)
	token, err := config.Exchange(ctx, code, oauth2.VerifierOption(state.Verifier))
	if err != nil {
		return failed("code exchange", err)
	}

	rawIDToken, _ := token.Extra("id_token").(string)
	if rawIDToken == "" {
		return failed("no ID token", errors.New("token response without id_token"))
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawIDToken)
	if err != nil {
		return failed("ID token", err)
	}
	if !hmac.Equal([]byte(idToken.Nonce), []byte(state.Nonce)) {
		return failed("nonce", errors.New("ID token nonce does not match"))
	}

	var claims idClaims
	if err := idToken.Claims(&claims); err != nil {
		return failed("claims", err)
	}
	if claims.Email == "" || !claims.verified() {
		return idClaims{}, &LoginError{Status: http.StatusForbidden, Code: CodeEmailNotVerified, Title: "Email not verified",
			Message: "Your identity provider did not confirm that your email address is verified (email_verified). Verify the address with your identity provider, then sign in again."}
	}
	return claims, nil
}

// operatorFor accepts the invite of the sign-in, or finds the operator of
// the verified email.
func (s *Service) operatorFor(claims idClaims, inviteID string, r *http.Request) (registry.Operator, *LoginError) {
	name := claims.Name
	if name == "" {
		name = claims.PreferredUsername
	}
	var op registry.Operator
	var err error
	if inviteID != "" {
		op, err = s.Registry.AcceptInvite(inviteID, claims.Email, name)
		if err == nil {
			s.Registry.AuditRegistry(auditlog.RegistryRecord{
				Actor: op.ID, Action: "invite.accept", Target: inviteID, RemoteAddr: remoteAddr(r),
				Details: map[string]any{"email": op.Email, "role": op.Role},
			})
		}
	} else {
		op, err = s.Registry.SignInOperator(claims.Email, name)
	}
	if err == nil {
		return op, nil
	}

	var rejected *registry.Error
	if !errors.As(err, &rejected) {
		s.Logger.Error("cannot record an operator sign-in", "error", err)
		return registry.Operator{}, &LoginError{Status: http.StatusInternalServerError, Code: "internal", Title: "Sign-in failed",
			Message: "The sign-in could not be recorded; the daemon log has the details."}
	}
	switch {
	case rejected.Code == registry.CodeNotFound:
		return registry.Operator{}, &LoginError{Status: http.StatusForbidden, Code: CodeNotAnOperator, Title: "Not an operator",
			Message: fmt.Sprintf("%s is not an operator of this registry. Ask an admin to invite you, then open the invite link.", claims.Email)}
	case rejected.Code == registry.CodeInvalidToken:
		return registry.Operator{}, &LoginError{Status: http.StatusForbidden, Code: CodeInviteInvalid, Title: "Invite not valid", Message: rejected.Message}
	case rejected.Code == registry.CodeOperatorDisabled:
		return registry.Operator{}, &LoginError{Status: http.StatusForbidden, Code: CodeOperatorDisabled, Title: "Account disabled", Message: rejected.Message}
	}
	return registry.Operator{}, &LoginError{Status: http.StatusForbidden, Code: CodeInviteInvalid, Title: "Sign-in refused", Message: rejected.Message}
}

// encodeState signs the state as base64url(JSON) "." base64url(HMAC).
func (s *Service) encodeState(state loginState) string {
	payload, _ := json.Marshal(state)
	encoded := base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.stateKey)
	mac.Write([]byte(encoded))
	return encoded + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// readState returns the state cookie's content when its signature is
// valid and it has not expired.
func (s *Service) readState(r *http.Request) (loginState, bool) {
	cookie, err := r.Cookie(StateCookie)
	if err != nil {
		return loginState{}, false
	}
	encoded, signature, ok := strings.Cut(cookie.Value, ".")
	if !ok {
		return loginState{}, false
	}
	mac := hmac.New(sha256.New, s.stateKey)
	mac.Write([]byte(encoded))
	got, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return loginState{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return loginState{}, false
	}
	var state loginState
	if err := json.Unmarshal(payload, &state); err != nil || time.Now().Unix() > state.Expires || state.State == "" {
		return loginState{}, false
	}
	return state, true
}

// SafeNext returns next when it is a local path under /dashboard or the
// OAuth consent page, and "" otherwise, so a sign-in can never continue to
// another site.
func SafeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	if next == "/dashboard" || strings.HasPrefix(next, "/dashboard/") || strings.HasPrefix(next, "/dashboard?") ||
		strings.HasPrefix(next, "/oauth/authorize?") {
		return next
	}
	return ""
}

func randomString() string {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(raw)
}
