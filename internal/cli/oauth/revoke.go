package oauth

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/pkg/client"
)

// maxTokenBytes bounds a token read from standard input.
const maxTokenBytes = 4096

// RevokeOptions are the inputs of capsol oauth revoke.
type RevokeOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Token   string
	Stderr  io.Writer
}

// RevokeResult is the JSON output of capsol oauth revoke. The token itself
// is never printed, only its prefix.
type RevokeResult struct {
	// Sent is true when the registry returned 200 to POST /oauth/revoke.
	// As RFC 7009 requires, it returns 200 for an unknown token too.
	Sent        bool   `json:"sent"`
	TokenPrefix string `json:"token_prefix"`
}

// NewCmdRevoke returns the capsol oauth revoke command.
func NewCmdRevoke(f *cmdutil.Factory) *cobra.Command {
	opts := &RevokeOptions{}
	cmd := &cobra.Command{
		Use:   "revoke --token TOKEN",
		Short: "Revoke an OAuth access or refresh token and its whole family",
		Long: `Send POST /oauth/revoke with token=TOKEN (RFC 7009). The registry
revokes the access token and its refresh token, and every later token of
the same family, so the client's next MCP request gets 401 token_revoked.
No admin key is needed: holding the token is enough.

The registry answers 200 for an unknown token too, as RFC 7009 requires,
so success does not prove the token existed. To check, find the
connection in capsol connections list (kind "oauth").

Pass --token - to read the token from standard input, which keeps it out
of the shell history and the process list.

Output: one line on a terminal, otherwise (or with -o json)
{"sent": true, "token_prefix": "capsol_at_"}.

Exit status: 0 sent, 1 failed, 2 usage error, 5 daemon unreachable.`,
		Example: `  capsol oauth revoke --token capsol_at_...

  # Read the token from a file without showing it
  capsol oauth revoke --token - < leaked-token.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Token == "" {
				return cmdutil.UsageError("--token is missing: pass the access or refresh token, or --token - to read it from standard input")
			}
			if opts.Token == "-" {
				token, err := readToken(f.Stdin)
				if err != nil {
					return err
				}
				opts.Token = token
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.Client, opts.Stderr = f.AnonymousClient(), f.Stderr
			return RunRevoke(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Token, "token", "", `OAuth access (capsol_at_…) or refresh (capsol_rt_…) token, or "-" to read it from standard input`)
	return cmd
}

// RunRevoke revokes the token of opts.
func RunRevoke(ctx context.Context, opts *RevokeOptions) error {
	prefix := secret.PrefixOf(opts.Token)
	if prefix != secret.PrefixAccess && prefix != secret.PrefixRefresh {
		fmt.Fprintf(opts.Stderr, "warning: the token does not start with %s or %s, so it is not an OAuth token of capsol; a share credential is revoked with capsol connections revoke\n",
			secret.PrefixAccess, secret.PrefixRefresh)
	}
	if err := opts.Client.RevokeOAuthToken(ctx, opts.Token); err != nil {
		return fmt.Errorf("revoke the OAuth token: %w", err)
	}

	result := RevokeResult{Sent: true, TokenPrefix: prefix}
	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(result)
	}
	shown := prefix
	if shown == "" {
		shown = "the token"
	}
	opts.Printer.Printf("Revoked %s… and its token family, if the registry knew it (it answers the same for unknown tokens).\n", shown)
	opts.Printer.Println("Check: capsol connections list --status revoked")
	return nil
}

// readToken reads one token from r: the first line, without spaces.
func readToken(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxTokenBytes)).ReadString('\n')
	token := strings.TrimSpace(line)
	if token == "" {
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read the token from standard input: %w", err)
		}
		return "", cmdutil.UsageError("--token -: the token is missing from standard input; pipe it in, such as: capsol oauth revoke --token - < token.txt")
	}
	return token, nil
}
