package shares

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/cli/mcpconfig"
	"github.com/capsol/capsol/pkg/client"
)

// CreateOptions are the inputs of capsol shares create.
type CreateOptions struct {
	Client    *client.Client
	Printer   cmdutil.Printer
	CapsuleID string
	Request   client.CreateShareRequest
}

// CreateResult is the JSON output of capsol shares create: the API's
// share, the capsule id, and a client configuration with the credential.
type CreateResult struct {
	client.Share
	CapsuleID    string           `json:"capsule_id"`
	ClientConfig mcpconfig.Config `json:"client_config"`
}

// NewCmdCreate returns the capsol shares create command.
func NewCmdCreate(f *cmdutil.Factory) *cobra.Command {
	opts := &CreateOptions{}
	cmd := &cobra.Command{
		Use:   "create CAPSULE_ID --label LABEL --role reader|writer",
		Short: "Create a share credential and print a ready MCP client configuration",
		Long: `Create a share of a capsule with POST /v1/capsules/<id>/shares and print
its credential, the capsule's MCP URL, and an "mcpServers" entry for MCP
clients that read one (Claude Code's .mcp.json, Cursor, Windsurf and
others) with the URL and the Authorization header.

The credential is shown only this once: the registry keeps only its
SHA-256. Store it in the agent's configuration or a secret store now.

Roles: reader uses the read-only tools; writer uses every tool. The policy
may limit the roles (capsol policy get).

Output: the credential, URL and configuration on a terminal, otherwise (or
with -o json) {"connection_id", "credential", "mcp_url", "role", "label",
"capsule_id", "client_config": {"mcpServers": {LABEL: {"type": "http",
"url", "headers": {"Authorization": "Bearer …"}}}}}.

Exit status: 0 created, 1 failed, 2 usage error, 3 capsule not found,
4 admin key rejected, 5 daemon unreachable.`,
		Example: `  capsol shares create cap_01jcxs0f6ke3kq1c2d2m3t7w4a --label laptop-bot --role writer

  # Write the client configuration of a CI agent to a file
  capsol shares create cap_01jcxs0f6ke3kq1c2d2m3t7w4a --label ci --role reader -o json |
    jq .client_config > .mcp.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.CapsuleID = args[0]
			if strings.TrimSpace(opts.Request.Label) == "" {
				return cmdutil.UsageError("--label is missing: name the agent, such as --label laptop-bot; capsol connections revoke --label finds it later")
			}
			if opts.Request.Role != "reader" && opts.Request.Role != "writer" {
				return cmdutil.UsageError("invalid --role %q: use reader or writer", opts.Request.Role)
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunCreate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Request.Label, "label", "", "name of the agent or connection (required)")
	cmd.Flags().StringVar(&opts.Request.Role, "role", "", "reader or writer (required)")
	return cmd
}

// RunCreate creates the share and prints it.
func RunCreate(ctx context.Context, opts *CreateOptions) error {
	share, err := opts.Client.CreateShare(ctx, opts.CapsuleID, opts.Request)
	if err != nil {
		if client.ErrorCode(err) == "not_found" {
			return fmt.Errorf("capsule %s: %w; list the capsules with capsol capsules list", opts.CapsuleID, err)
		}
		return err
	}
	config := mcpconfig.New(share.Label, share.MCPURL, share.Credential)
	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(CreateResult{Share: share, CapsuleID: opts.CapsuleID, ClientConfig: config})
	}

	p := opts.Printer
	p.Printf("Created share %s (label %q, %s) on capsule %s.\n\n", p.Bold(share.ConnectionID), share.Label, share.Role, opts.CapsuleID)
	p.Println("Credential, shown only this once:")
	p.Printf("  %s\n\n", p.Bold(share.Credential))
	p.Println("MCP URL (Streamable HTTP):")
	p.Printf("  %s\n\n", share.MCPURL)
	return mcpconfig.Print(p, config, share.Label, share.MCPURL, share.Credential)
}
