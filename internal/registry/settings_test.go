package registry

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func ptr(s string) *string { return &s }

func set(s string) OptionalString { return OptionalString{Set: true, Value: &s} }

func TestSettingsCipherFormat(t *testing.T) {
	material := []byte("0123456789abcdef0123456789abcdef-material")
	c, err := NewSettingsCipher(material)
	require.NoError(t, err)

	stored, err := c.Encrypt("s3cret")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored, "enc:v1:"), stored)

	// Decrypt by the documented format alone: AES-256-GCM with the
	// SHA-256 of the key material, base64 of nonce || ciphertext.
	key := sha256.Sum256(material)
	block, err := aes.NewCipher(key[:])
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	sealed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, "enc:v1:"))
	require.NoError(t, err)
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
	require.NoError(t, err)
	require.Equal(t, "s3cret", string(plain))

	other, err := NewSettingsCipher([]byte("another secret key material of 32+ bytes"))
	require.NoError(t, err)
	_, err = other.Decrypt(stored)
	require.ErrorIs(t, err, ErrUnreadable)
	_, err = c.Decrypt("s3cret")
	require.ErrorIs(t, err, ErrUnreadable)
}

func TestSettingsNeverShowSecrets(t *testing.T) {
	tr := newTestRegistry(t)
	c, err := NewSettingsCipher([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)

	view, changed, err := tr.UpdateSettings(c, SettingsUpdate{
		PublicURL: set("https://capsol.example.com/"), OIDCIssuer: set("https://idp.example.com"),
		OIDCClientID: set("capsol"), OIDCClientSecret: set("client-s3cret"),
		SMTPURL: set("smtps://user:pa55@mail.example.com:465?from=capsol@example.com"),
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"public_url", "oidc.issuer", "oidc.client_id", "oidc.client_secret", "smtp_url"}, changed)
	require.Equal(t, ptr("https://capsol.example.com"), view.PublicURL)
	require.Equal(t, ptr(SecretSet), view.OIDC.ClientSecret)
	require.Equal(t, ptr(SecretSet), view.SMTPURL)

	stored := tr.Store.Settings.Get()
	require.True(t, strings.HasPrefix(*stored.OIDC.ClientSecret, EncryptedPrefix))
	require.True(t, strings.HasPrefix(*stored.SMTPURL, EncryptedPrefix))
	require.NotContains(t, *stored.SMTPURL, "pa55")

	cfg, ok, err := tr.OIDCSettings(c)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, OIDCConfig{Issuer: "https://idp.example.com", ClientID: "capsol", ClientSecret: "client-s3cret"}, cfg)

	// A new secret key makes both ciphertexts unreadable.
	rotated, err := NewSettingsCipher([]byte("a rotated secret key, also 32 bytes long"))
	require.NoError(t, err)
	require.Equal(t, []string{"oidc.client_secret", "smtp_url"}, tr.UnreadableSettings(rotated))
	view = tr.Settings(rotated)
	require.Equal(t, ptr(SecretUnreadable), view.OIDC.ClientSecret)
	require.Equal(t, ptr(SecretUnreadable), view.SMTPURL)
	_, _, err = tr.SMTPURL(rotated)
	require.ErrorIs(t, err, ErrUnreadable)

	// Clearing with null removes the value.
	view, _, err = tr.UpdateSettings(rotated, SettingsUpdate{SMTPURL: OptionalString{Set: true}})
	require.NoError(t, err)
	require.Nil(t, view.SMTPURL)
}

func TestSettingsRejectBadValues(t *testing.T) {
	tr := newTestRegistry(t)
	c, err := NewSettingsCipher([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	cases := []SettingsUpdate{
		{PublicURL: set("capsol.example.com")},
		{PublicURL: set("ftp://capsol.example.com")},
		{OIDCIssuer: set("http://idp.example.com")},
		{SMTPURL: set("http://mail.example.com")},
		{SMTPURL: set("smtp://mail.example.com?from=not-an-address")},
		{SMTPURL: set("smtp://mail.example.com?relay=1")},
		{OIDCClientSecret: set("line\nbreak")},
	}
	for _, u := range cases {
		_, _, err := tr.UpdateSettings(c, u)
		requireCode(t, err, CodeInvalidRequest)
	}
	_, _, err = tr.UpdateSettings(c, SettingsUpdate{SMTPURL: set("smtp://user:topsecret@mail.example.com?x=1")})
	require.NotContains(t, err.Error(), "topsecret", "errors never repeat the SMTP URL")

	_, _, err = tr.UpdateSettings(c, SettingsUpdate{OIDCIssuer: set("http://127.0.0.1:9000/oidc")})
	require.NoError(t, err, "http is accepted for a loopback identity provider")
}
