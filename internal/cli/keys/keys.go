// Package keys holds capsol keys and its rotate-admin and rotate-secret
// subcommands: the key rotation runbooks.
package keys

import (
	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// NewCmdKeys returns the capsol keys command.
func NewCmdKeys(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate the admin key and the secret key",
		Long: `The admin key authenticates /v1 calls and break-glass dashboard sign-ins;
the secret key encrypts the OIDC client secret and the SMTP URL in
settings.json. Agent connections depend on neither.`,
		Example: `  capsol keys rotate-admin
  capsol keys rotate-secret --data-dir /var/lib/capsol/registry-data`,
		RunE: cmdutil.RunGroup,
	}
	cmd.AddCommand(NewCmdRotateAdmin(f), NewCmdRotateSecret(f))
	return cmd
}
