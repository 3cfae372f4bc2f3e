package registry

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"unicode"

	"github.com/capsol/capsol/internal/store"
)

// EncryptedPrefix starts every encrypted value in settings.json.
const EncryptedPrefix = "enc:v1:"

// What GET /v1/settings shows in place of a secret: SecretSet when it is
// stored and decrypts, SecretUnreadable when the secret key changed since
// it was stored, and null when it is not set.
const (
	SecretSet        = "set"
	SecretUnreadable = "re-enter this value"
)

// maxSecretBytes bounds the OIDC client secret and the SMTP URL.
const maxSecretBytes = 2048

// ErrUnreadable is returned for an encrypted setting that the current
// secret key cannot decrypt.
var ErrUnreadable = errors.New("the stored value cannot be decrypted with the current secret key; re-enter it in dashboard → Settings")

// SettingsCipher encrypts the secrets of settings.json with AES-256-GCM.
// The key is the SHA-256 of the secret key material, and a value is stored
// as "enc:v1:" followed by the standard base64 of nonce || ciphertext.
type SettingsCipher struct {
	aead cipher.AEAD
}

// NewSettingsCipher returns the cipher of the secret key material.
func NewSettingsCipher(material []byte) (*SettingsCipher, error) {
	key := sha256.Sum256(material)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SettingsCipher{aead: aead}, nil
}

// Encrypt returns the stored form of plaintext.
func (c *SettingsCipher) Encrypt(plaintext string) (string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return EncryptedPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt returns the plaintext of a stored value. A value that is not in
// the stored form, or was encrypted with another key, is ErrUnreadable.
func (c *SettingsCipher) Decrypt(stored string) (string, error) {
	encoded, ok := strings.CutPrefix(stored, EncryptedPrefix)
	if !ok {
		return "", ErrUnreadable
	}
	sealed, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(sealed) < c.aead.NonceSize() {
		return "", ErrUnreadable
	}
	nonce, ciphertext := sealed[:c.aead.NonceSize()], sealed[c.aead.NonceSize():]
	plain, err := c.aead.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return "", ErrUnreadable
	}
	return string(plain), nil
}

// SettingsView is settings.json as GET /v1/settings shows it: secrets are
// SecretSet, SecretUnreadable or null, never their value.
type SettingsView struct {
	PublicURL *string  `json:"public_url"`
	OIDC      OIDCView `json:"oidc"`
	SMTPURL   *string  `json:"smtp_url"`
}

// OIDCView is the OIDC part of SettingsView.
type OIDCView struct {
	Issuer       *string `json:"issuer"`
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
}

// OptionalString is an update field that tells absent, null and a string
// apart: Set is false when the field was absent, Value is nil for null.
type OptionalString struct {
	Set   bool
	Value *string
}

// SettingsUpdate lists the changes of UpdateSettings. Absent fields keep
// their value, and null or "" clears one.
type SettingsUpdate struct {
	PublicURL        OptionalString
	OIDCIssuer       OptionalString
	OIDCClientID     OptionalString
	OIDCClientSecret OptionalString
	SMTPURL          OptionalString
}

// OIDCConfig is the decrypted OIDC sign-in configuration.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
}

// secretState returns what the view shows for an encrypted value.
func (c *SettingsCipher) secretState(stored *string) *string {
	if stored == nil {
		return nil
	}
	state := SecretSet
	if _, err := c.Decrypt(*stored); err != nil {
		state = SecretUnreadable
	}
	return &state
}

// Settings returns the settings without any secret.
func (r *Registry) Settings(c *SettingsCipher) SettingsView {
	s := r.Store.Settings.Get()
	return SettingsView{
		PublicURL: s.PublicURL,
		OIDC:      OIDCView{Issuer: s.OIDC.Issuer, ClientID: s.OIDC.ClientID, ClientSecret: c.secretState(s.OIDC.ClientSecret)},
		SMTPURL:   c.secretState(s.SMTPURL),
	}
}

// UnreadableSettings names the encrypted settings that the current secret
// key cannot decrypt, such as "oidc.client_secret".
func (r *Registry) UnreadableSettings(c *SettingsCipher) []string {
	view := r.Settings(c)
	var names []string
	if view.OIDC.ClientSecret != nil && *view.OIDC.ClientSecret == SecretUnreadable {
		names = append(names, "oidc.client_secret")
	}
	if view.SMTPURL != nil && *view.SMTPURL == SecretUnreadable {
		names = append(names, "smtp_url")
	}
	return names
}

// OIDCSettings returns the decrypted OIDC configuration. ok is false when
// issuer, client id or client secret is not set, and err is ErrUnreadable
// when the client secret no longer decrypts.
func (r *Registry) OIDCSettings(c *SettingsCipher) (cfg OIDCConfig, ok bool, err error) {
	s := r.Store.Settings.Get().OIDC
	if s.Issuer == nil || s.ClientID == nil || s.ClientSecret == nil {
		return OIDCConfig{}, false, nil
	}
	secret, err := c.Decrypt(*s.ClientSecret)
	if err != nil {
		return OIDCConfig{}, false, err
	}
	return OIDCConfig{Issuer: *s.Issuer, ClientID: *s.ClientID, ClientSecret: secret}, true, nil
}

// SMTPURL returns the decrypted SMTP URL. ok is false when it is not set,
// and err is ErrUnreadable when it no longer decrypts.
func (r *Registry) SMTPURL(c *SettingsCipher) (smtpURL string, ok bool, err error) {
	stored := r.Store.Settings.Get().SMTPURL
	if stored == nil {
		return "", false, nil
	}
	plain, err := c.Decrypt(*stored)
	if err != nil {
		return "", false, err
	}
	return plain, true, nil
}

// UpdateSettings checks and applies an update and returns the new view.
// It returns the names of the fields that changed, for the audit, which
// never holds the secrets themselves.
func (r *Registry) UpdateSettings(c *SettingsCipher, u SettingsUpdate) (SettingsView, []string, error) {
	type change struct {
		name    string
		field   OptionalString
		check   func(string) (string, error)
		encrypt bool
		target  func(*store.Settings) **string
	}
	changes := []change{
		{"public_url", u.PublicURL, checkPublicURL, false, func(s *store.Settings) **string { return &s.PublicURL }},
		{"oidc.issuer", u.OIDCIssuer, checkIssuer, false, func(s *store.Settings) **string { return &s.OIDC.Issuer }},
		{"oidc.client_id", u.OIDCClientID, checkClientID, false, func(s *store.Settings) **string { return &s.OIDC.ClientID }},
		{"oidc.client_secret", u.OIDCClientSecret, checkClientSecret, true, func(s *store.Settings) **string { return &s.OIDC.ClientSecret }},
		{"smtp_url", u.SMTPURL, CheckSMTPURL, true, func(s *store.Settings) **string { return &s.SMTPURL }},
	}

	// Every value is checked and encrypted before anything is written, so
	// a rejected update changes nothing.
	values := make([]*string, len(changes))
	var changed []string
	for i, ch := range changes {
		if !ch.field.Set {
			continue
		}
		changed = append(changed, ch.name)
		if ch.field.Value == nil || strings.TrimSpace(*ch.field.Value) == "" {
			continue
		}
		value, err := ch.check(strings.TrimSpace(*ch.field.Value))
		if err != nil {
			return SettingsView{}, nil, err
		}
		if ch.encrypt {
			if value, err = c.Encrypt(value); err != nil {
				return SettingsView{}, nil, fmt.Errorf("encrypt %s: %w", ch.name, err)
			}
		}
		values[i] = &value
	}
	if len(changed) == 0 {
		return r.Settings(c), nil, nil
	}

	err := r.Store.Settings.Update(func(doc *store.Settings) error {
		for i, ch := range changes {
			if ch.field.Set {
				*ch.target(doc) = values[i]
			}
		}
		return nil
	})
	if err != nil {
		return SettingsView{}, nil, err
	}
	r.Logger.Info("settings changed", "fields", changed)
	return r.Settings(c), changed, nil
}

// checkPublicURL accepts an absolute http or https URL without query,
// fragment or user info, and drops a trailing slash.
func checkPublicURL(value string) (string, error) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", newError(CodeInvalidRequest, "public_url %q is not an absolute http(s) URL without query or fragment; send a value such as https://capsol.example.com", value)
	}
	return strings.TrimRight(value, "/"), nil
}

// checkIssuer accepts an https issuer URL, or an http one on a loopback
// host for local identity providers.
func checkIssuer(value string) (string, error) {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", newError(CodeInvalidRequest, "oidc.issuer %q is not an absolute URL; send the issuer of your identity provider, such as https://accounts.example.com", value)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return "", newError(CodeInvalidRequest, "oidc.issuer %q must use https (http is accepted only for 127.0.0.1, ::1 and localhost)", value)
	}
	return strings.TrimRight(value, "/"), nil
}

func checkClientID(value string) (string, error) {
	return cleanText("oidc.client_id", value, true)
}

func checkClientSecret(value string) (string, error) {
	if len(value) > maxSecretBytes || strings.ContainsFunc(value, unicode.IsControl) {
		return "", newError(CodeInvalidRequest, "oidc.client_secret must be at most %d bytes of printable text; paste the secret from your identity provider", maxSecretBytes)
	}
	return value, nil
}

// CheckSMTPURL accepts smtp://[user:pass@]host[:port][?from=address] and
// the same with smtps:// for implicit TLS. Error messages never repeat the
// URL, because it may hold a password.
func CheckSMTPURL(value string) (string, error) {
	if len(value) > maxSecretBytes {
		return "", newError(CodeInvalidRequest, "smtp_url is over %d bytes; send a shorter URL", maxSecretBytes)
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return "", newError(CodeInvalidRequest, "smtp_url is not smtp://[user:pass@]host[:port] or smtps://…; send a URL such as smtps://user:password@mail.example.com:465")
	}
	for key, values := range u.Query() {
		if key != "from" || len(values) != 1 {
			return "", newError(CodeInvalidRequest, "smtp_url has the query parameter %q; the only one accepted is from=<sender address>", key)
		}
		if addr, err := mail.ParseAddress(values[0]); err != nil || addr.Address != values[0] {
			return "", newError(CodeInvalidRequest, "smtp_url from=%q is not a plain email address; send from=capsol@example.com", values[0])
		}
	}
	return value, nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
