package settings

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// maxSecretBytes bounds a secret read from standard input.
const maxSecretBytes = 4096

// clearable are the field names that --clear takes.
var clearable = []string{"public_url", "oidc", "oidc.issuer", "oidc.client_id", "oidc.client_secret", "smtp_url"}

// SetOptions are the inputs of capsol settings set.
type SetOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Update  client.SettingsUpdate
}

// NewCmdSet returns the capsol settings set command.
func NewCmdSet(f *cmdutil.Factory) *cobra.Command {
	opts := &SetOptions{}
	var publicURL, issuer, clientID, clientSecret, smtpURL string
	var clear []string
	cmd := &cobra.Command{
		Use:   "set [--FIELD VALUE...] [--clear FIELD...]",
		Short: "Change settings; secrets can be read from standard input",
		Long: `Change settings with PATCH /v1/settings. Only the fields given change.
The registry checks every value before it stores any, so a rejected update
changes nothing.

Give "-" as the value of --oidc-client-secret or --smtp-url to read it from
standard input, which keeps it out of the shell history and the process
list; only one of them can read standard input at a time.

--clear removes a field: public_url, oidc (all three OIDC fields),
oidc.issuer, oidc.client_id, oidc.client_secret or smtp_url.

After capsol keys rotate-secret, re-enter the OIDC client secret and the
SMTP URL here.

Output: the new settings, as capsol settings get.`,
		Example: `  capsol settings set --public-url https://capsol.example.com
  capsol settings set --oidc-issuer https://accounts.example.com --oidc-client-id capsol --oidc-client-secret - < oidc-secret.txt
  capsol settings set --smtp-url - <<< 'smtps://capsol:password@mail.example.com:465?from=capsol@example.com'
  capsol settings set --clear smtp_url`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			if clientSecret == "-" && smtpURL == "-" {
				return cmdutil.UsageError("only one of --oidc-client-secret and --smtp-url can read standard input; set them in two commands")
			}
			for _, secret := range []*string{&clientSecret, &smtpURL} {
				if *secret == "-" {
					value, err := readSecret(f.Stdin)
					if err != nil {
						return err
					}
					*secret = value
				}
			}

			u := &opts.Update
			oidc := &client.OIDCUpdate{}
			set := func(flag string, value string) client.Value {
				if flags.Changed(flag) {
					return client.Set(value)
				}
				return nil
			}
			u.PublicURL = set("public-url", publicURL)
			u.SMTPURL = set("smtp-url", smtpURL)
			oidc.Issuer = set("oidc-issuer", issuer)
			oidc.ClientID = set("oidc-client-id", clientID)
			oidc.ClientSecret = set("oidc-client-secret", clientSecret)

			for _, field := range clear {
				if !slices.Contains(clearable, field) {
					return cmdutil.UsageError("invalid --clear %q: use %s", field, strings.Join(clearable, ", "))
				}
				switch field {
				case "public_url":
					u.PublicURL = client.Clear()
				case "smtp_url":
					u.SMTPURL = client.Clear()
				case "oidc":
					u.ClearOIDC = true
				case "oidc.issuer":
					oidc.Issuer = client.Clear()
				case "oidc.client_id":
					oidc.ClientID = client.Clear()
				case "oidc.client_secret":
					oidc.ClientSecret = client.Clear()
				}
			}
			if oidc.Issuer != nil || oidc.ClientID != nil || oidc.ClientSecret != nil {
				if u.ClearOIDC {
					return cmdutil.UsageError("--clear oidc removes all OIDC fields, so it cannot be combined with other OIDC changes")
				}
				u.OIDC = oidc
			}
			if u.PublicURL == nil && u.SMTPURL == nil && u.OIDC == nil && !u.ClearOIDC {
				return cmdutil.UsageError("nothing to change: give fields as flags, such as --public-url URL, or --clear FIELD")
			}

			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunSet(cmd.Context(), opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&publicURL, "public-url", "", "external base URL of the registry, such as https://capsol.example.com")
	flags.StringVar(&issuer, "oidc-issuer", "", "issuer URL of the OIDC provider operators sign in with")
	flags.StringVar(&clientID, "oidc-client-id", "", "OIDC client id of capsol at the provider")
	flags.StringVar(&clientSecret, "oidc-client-secret", "", `OIDC client secret, or "-" to read it from standard input`)
	flags.StringVar(&smtpURL, "smtp-url", "", `smtp[s]://user:password@host:port?from=address for invite emails, or "-" to read it from standard input`)
	flags.StringSliceVar(&clear, "clear", nil, "fields to remove: public_url, oidc, oidc.issuer, oidc.client_id, oidc.client_secret, smtp_url")
	return cmd
}

// RunSet sends the update and prints the new settings.
func RunSet(ctx context.Context, opts *SetOptions) error {
	s, err := opts.Client.UpdateSettings(ctx, opts.Update)
	if err != nil {
		return fmt.Errorf("change the settings: %w", err)
	}
	return printSettings(opts.Printer, s)
}

func readSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxSecretBytes)).ReadString('\n')
	value := strings.TrimSpace(line)
	if value == "" {
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read the secret from standard input: %w", err)
		}
		return "", cmdutil.UsageError(`"-" reads the value from standard input, which is empty; pipe the value in`)
	}
	return value, nil
}
