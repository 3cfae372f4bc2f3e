package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
	"github.com/capsol/capsol/internal/store"
)

type settingsData struct {
	Settings     registry.SettingsView
	EffectiveURL string
	CallbackURL  string
	Policy       store.Policy
	Unreadable   string
}

func (d *Dashboard) settingsPage(c *gin.Context) {
	data := settingsData{
		Settings: d.Registry.Settings(d.SignIn.Cipher), EffectiveURL: d.Registry.BaseURL,
		CallbackURL: strings.TrimRight(d.Registry.BaseURL, "/") + signin.CallbackPath,
		Policy:      d.Registry.Policy(), Unreadable: registry.SecretUnreadable,
	}
	d.render(c, http.StatusOK, "settings", d.newView(c, "settings", "Settings", data))
}

// saveSettings applies the settings form. Public URL, issuer and client id
// are always sent, and an empty one clears the value. The two secrets are
// kept when left empty, and cleared only with their clear box.
func (d *Dashboard) saveSettings(c *gin.Context) {
	text := func(field string) registry.OptionalString {
		value := strings.TrimSpace(c.PostForm(field))
		return registry.OptionalString{Set: true, Value: &value}
	}
	secret := func(field, clear string) registry.OptionalString {
		if c.PostForm(clear) != "" {
			return registry.OptionalString{Set: true}
		}
		value := strings.TrimSpace(c.PostForm(field))
		if value == "" {
			return registry.OptionalString{}
		}
		return registry.OptionalString{Set: true, Value: &value}
	}
	current := d.Registry.Store.Settings.Get()
	update := registry.SettingsUpdate{
		OIDCClientSecret: secret("oidc_client_secret", "clear_oidc_client_secret"),
		SMTPURL:          secret("smtp_url", "clear_smtp_url"),
	}
	// Unchanged plain fields are left out, so the audit names only what
	// changed.
	for _, f := range []struct {
		field   string
		current *string
		target  *registry.OptionalString
	}{
		{"public_url", current.PublicURL, &update.PublicURL},
		{"oidc_issuer", current.OIDC.Issuer, &update.OIDCIssuer},
		{"oidc_client_id", current.OIDC.ClientID, &update.OIDCClientID},
	} {
		value := text(f.field)
		if deref(f.current) != *value.Value {
			*f.target = value
		}
	}

	_, changed, err := d.Registry.UpdateSettings(d.SignIn.Cipher, update)
	if err != nil {
		d.failure(c, err)
		return
	}
	if len(changed) > 0 {
		d.audit(c, "settings.update", "", map[string]any{"fields": changed})
	}
	redirect(c, "/dashboard/settings", "settings-saved")
}

// savePolicy replaces the policy with the policy form.
func (d *Dashboard) savePolicy(c *gin.Context) {
	policy := store.Policy{
		AllowedRoles:           c.PostFormArray("allowed_roles"),
		AllowAnonymousCapsules: c.PostForm("allow_anonymous_capsules") != "",
	}
	for _, f := range []struct {
		field  string
		target *int
	}{
		{"max_grant_age_days", &policy.MaxGrantAgeDays},
		{"max_idle_days", &policy.MaxIdleDays},
		{"anonymous_capsule_ttl_hours", &policy.AnonymousCapsuleTTLHours},
		{"signal_ttl_seconds", &policy.SignalTTLSeconds},
		{"max_pending_grants_per_capsule", &policy.MaxPendingGrantsPerCapsule},
	} {
		value := strings.TrimSpace(c.PostForm(f.field))
		n, err := strconv.Atoi(value)
		if err != nil {
			d.renderError(c, http.StatusBadRequest, "invalid_request", "That did not work",
				f.field+" "+strconv.Quote(value)+" is not a whole number; enter a number such as 0.")
			return
		}
		*f.target = n
	}
	updated, err := d.Registry.SetPolicy(policy)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "policy.update", "", map[string]any{"policy": updated})
	redirect(c, "/dashboard/settings", "policy-saved")
}
