package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
)

// NewServeCommand returns the command that runs the daemon. capsold uses
// the same command as its root, so both take identical flags.
func NewServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the registry daemon (identical to capsold)",
		Long: `Run the registry daemon in the foreground. Settings come from flags, then
environment variables, then $CAPSOL_HOME/config.yaml, then defaults.
SIGTERM or SIGINT stop it gracefully; SIGHUP reloads the admin key.`,
		Example: `  # Scratch registry on the first free port of 4000-4010
  CAPSOL_DATA_DIR=/tmp/capsol-drill capsol serve

  # Production: exact port, persistent secret key
  CAPSOL_ENV=production CAPSOL_SECRET_KEY_FILE=/etc/capsol/secret.key PORT=4000 capsol serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags(), os.Getenv)
			if err != nil {
				return &ExitError{Code: daemon.ReportBootFailure(cmd.ErrOrStderr(), err)}
			}
			if code := daemon.Main(cfg, cmd.ErrOrStderr()); code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	config.BindFlags(cmd.Flags())
	return cmd
}
