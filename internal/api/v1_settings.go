package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/registry"
)

// Number of registry audit entries returned without and with a limit
// parameter.
const (
	DefaultAuditLimit = 1000
	MaxAuditLimit     = 10000
)

type settingsRequest struct {
	PublicURL optionalString `json:"public_url"`
	OIDC      optionalOIDC   `json:"oidc"`
	SMTPURL   optionalString `json:"smtp_url"`
}

type oidcSettingsRequest struct {
	Issuer       optionalString `json:"issuer"`
	ClientID     optionalString `json:"client_id"`
	ClientSecret optionalString `json:"client_secret"`
}

// optionalOIDC is the "oidc" object of a settings update: absent keeps
// everything, null clears issuer, client id and client secret.
type optionalOIDC struct {
	Set   bool
	Null  bool
	Value oidcSettingsRequest
}

func (o *optionalOIDC) UnmarshalJSON(data []byte) error {
	o.Set = true
	if string(data) == "null" {
		o.Null = true
		return nil
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&o.Value); err != nil {
		return fmt.Errorf("oidc must be an object with the fields issuer, client_id and client_secret: %w", err)
	}
	return nil
}

var cleared = registry.OptionalString{Set: true}

// updateOf turns a settings request into a registry update.
func (req settingsRequest) updateOf() registry.SettingsUpdate {
	u := registry.SettingsUpdate{
		PublicURL: registry.OptionalString(req.PublicURL),
		SMTPURL:   registry.OptionalString(req.SMTPURL),
	}
	switch {
	case req.OIDC.Null:
		u.OIDCIssuer, u.OIDCClientID, u.OIDCClientSecret = cleared, cleared, cleared
	case req.OIDC.Set:
		u.OIDCIssuer = registry.OptionalString(req.OIDC.Value.Issuer)
		u.OIDCClientID = registry.OptionalString(req.OIDC.Value.ClientID)
		u.OIDCClientSecret = registry.OptionalString(req.OIDC.Value.ClientSecret)
	}
	return u
}

// settingsAvailable rejects settings requests on a server without the
// sign-in service, which holds the secret key's cipher.
func (s *Server) settingsAvailable(c *gin.Context) bool {
	if s.SignIn == nil {
		writeError(c, http.StatusServiceUnavailable, "internal", "settings are not available on this server: it runs without a secret key")
		return false
	}
	return true
}

// getSettings returns the settings. The OIDC client secret and the SMTP URL
// are shown as "set", "re-enter this value" or null, never as their value.
func (s *Server) getSettings(c *gin.Context) {
	if !s.settingsAvailable(c) {
		return
	}
	c.JSON(http.StatusOK, s.Registry.Settings(s.SignIn.Cipher))
}

func (s *Server) updateSettings(c *gin.Context) {
	if !s.settingsAvailable(c) {
		return
	}
	var req settingsRequest
	if !decodeBody(c, &req, false) {
		return
	}
	view, changed, err := s.Registry.UpdateSettings(s.SignIn.Cipher, req.updateOf())
	if err != nil {
		fail(c, err)
		return
	}
	if len(changed) > 0 {
		s.audit(c, "settings.update", "", map[string]any{"fields": changed})
	}
	c.JSON(http.StatusOK, view)
}

// registryAudit returns the newest matching lines of the registry audit,
// newest last, each exactly as stored.
func (s *Server) registryAudit(c *gin.Context) {
	filter := auditlog.Filter{Date: c.Query("date"), Actor: c.Query("actor"), Limit: DefaultAuditLimit}
	if limit := c.Query("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxAuditLimit {
			writeError(c, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("limit %q is invalid; send a whole number from 1 to %d", limit, MaxAuditLimit))
			return
		}
		filter.Limit = n
	}
	entries, err := s.Registry.ReadRegistryAudit(filter)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries})
}
