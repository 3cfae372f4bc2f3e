package settings

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// GetOptions are the inputs of capsol settings get.
type GetOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
}

// NewCmdGet returns the capsol settings get command.
func NewCmdGet(f *cmdutil.Factory) *cobra.Command {
	opts := &GetOptions{}
	return &cobra.Command{
		Use:   "get",
		Short: "Show the settings, without secrets",
		Long: `Show the settings from GET /v1/settings.

Output: a FIELD VALUE table on a terminal, otherwise (or with -o json)
{"public_url", "oidc": {"issuer", "client_id", "client_secret"},
"smtp_url"}, where client_secret and smtp_url are "set", "re-enter this
value" or null.`,
		Example: `  capsol settings get
  capsol settings get -o json | jq -r .oidc.client_secret`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunGet(cmd.Context(), opts)
		},
	}
}

// RunGet prints the settings.
func RunGet(ctx context.Context, opts *GetOptions) error {
	s, err := opts.Client.GetSettings(ctx)
	if err != nil {
		return err
	}
	return printSettings(opts.Printer, s)
}
