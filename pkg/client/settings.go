package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// What Settings shows in place of a secret that is stored: SecretSet when
// it decrypts, SecretUnreadable when the secret key changed since it was
// stored. A secret that is not set is nil.
const (
	SecretSet        = "set"
	SecretUnreadable = "re-enter this value"
)

// Settings are the registry settings. The OIDC client secret and the SMTP
// URL are never returned, only whether they are set.
type Settings struct {
	PublicURL *string      `json:"public_url"`
	OIDC      OIDCSettings `json:"oidc"`
	SMTPURL   *string      `json:"smtp_url"`
}

// OIDCSettings configure operator sign-in.
type OIDCSettings struct {
	Issuer       *string `json:"issuer"`
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
}

// Value is a settings field to send: nil leaves the field out, a pointer
// to nil clears it (JSON null), and a pointer to a string sets it.
type Value = **string

// Set returns a Value that sets a field to s.
func Set(s string) Value {
	p := &s
	return &p
}

// Clear returns a Value that clears a field.
func Clear() Value {
	var p *string
	return &p
}

// SettingsUpdate is the body of PATCH /v1/settings. Nil fields are left
// out and keep their value.
type SettingsUpdate struct {
	PublicURL Value
	SMTPURL   Value
	// OIDC, when not nil, sends the "oidc" object with the fields set in
	// it. ClearOIDC sends "oidc": null, which clears all three.
	OIDC      *OIDCUpdate
	ClearOIDC bool
}

// OIDCUpdate is the "oidc" object of a settings update.
type OIDCUpdate struct {
	Issuer       Value
	ClientID     Value
	ClientSecret Value
}

// MarshalJSON writes only the fields that are set.
func (u SettingsUpdate) MarshalJSON() ([]byte, error) {
	body := map[string]any{}
	putValue(body, "public_url", u.PublicURL)
	putValue(body, "smtp_url", u.SMTPURL)
	switch {
	case u.ClearOIDC:
		body["oidc"] = nil
	case u.OIDC != nil:
		oidc := map[string]any{}
		putValue(oidc, "issuer", u.OIDC.Issuer)
		putValue(oidc, "client_id", u.OIDC.ClientID)
		putValue(oidc, "client_secret", u.OIDC.ClientSecret)
		body["oidc"] = oidc
	}
	return json.Marshal(body)
}

func putValue(body map[string]any, key string, v Value) {
	if v == nil {
		return
	}
	if *v == nil {
		body[key] = nil
		return
	}
	body[key] = **v
}

// GetSettings returns the settings.
func (c *Client) GetSettings(ctx context.Context) (Settings, error) {
	var out Settings
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/settings", admin: true}, &out)
	return out, err
}

// UpdateSettings changes the settings and returns them.
func (c *Client) UpdateSettings(ctx context.Context, u SettingsUpdate) (Settings, error) {
	var out Settings
	err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/settings", body: u, admin: true}, &out)
	return out, err
}

// Policy is the registry policy.
type Policy struct {
	AllowedRoles               []string `json:"allowed_roles"`
	MaxGrantAgeDays            int      `json:"max_grant_age_days"`
	MaxIdleDays                int      `json:"max_idle_days"`
	AllowAnonymousCapsules     bool     `json:"allow_anonymous_capsules"`
	AnonymousCapsuleTTLHours   int      `json:"anonymous_capsule_ttl_hours"`
	SignalTTLSeconds           int      `json:"signal_ttl_seconds"`
	MaxPendingGrantsPerCapsule int      `json:"max_pending_grants_per_capsule"`
}

// GetPolicy returns the policy.
func (c *Client) GetPolicy(ctx context.Context) (Policy, error) {
	var out Policy
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/policy", admin: true}, &out)
	return out, err
}

// SetPolicy replaces the policy with p and returns it.
func (c *Client) SetPolicy(ctx context.Context, p Policy) (Policy, error) {
	var out Policy
	err := c.do(ctx, request{method: http.MethodPut, path: "/v1/policy", body: p, admin: true}, &out)
	return out, err
}
