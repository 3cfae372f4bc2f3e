// Package settings holds capsol settings and its get and set subcommands:
// the public URL, OIDC sign-in and the SMTP URL. The OIDC client secret
// and the SMTP URL are stored encrypted and never shown.
package settings

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// NewCmdSettings returns the capsol settings command.
func NewCmdSettings(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show and change the public URL, OIDC sign-in and SMTP settings",
		Long: `Settings hold the public URL, the OIDC provider operators sign in with,
and the SMTP URL invites are emailed through. The OIDC client secret and
the SMTP URL are encrypted with the secret key and never shown: get says
"set", "re-enter this value" (the secret key changed since they were
stored) or nothing.`,
		Example: `  capsol settings get
  capsol settings set --oidc-issuer https://accounts.example.com --oidc-client-id capsol --oidc-client-secret -`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdGet(f), NewCmdSet(f))
	return cmd
}

// printSettings writes s as the API's JSON object or as a FIELD VALUE
// table.
func printSettings(p cmdutil.Printer, s client.Settings) error {
	if p.JSON() {
		return p.PrintJSON(s)
	}
	secret := func(v *string) string {
		switch {
		case v == nil:
			return "not set"
		case *v == client.SecretUnreadable:
			return *v + " (the secret key changed since it was stored)"
		}
		return *v
	}
	rows := [][]string{
		{"public_url", cmdutil.Deref(s.PublicURL, "not set (the daemon's --public-url)")},
		{"oidc.issuer", cmdutil.Deref(s.OIDC.Issuer, "not set")},
		{"oidc.client_id", cmdutil.Deref(s.OIDC.ClientID, "not set")},
		{"oidc.client_secret", secret(s.OIDC.ClientSecret)},
		{"smtp_url", secret(s.SMTPURL)},
	}
	return p.Table([]string{"field", "value"}, rows)
}
