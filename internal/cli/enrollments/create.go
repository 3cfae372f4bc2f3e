package enrollments

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// CreateOptions are the inputs of capsol enrollments create.
type CreateOptions struct {
	Client    *client.Client
	Printer   cmdutil.Printer
	CapsuleID string
	Request   client.CreateEnrollmentRequest
	// Server is the registry URL this command calls. The enroll command is
	// printed with it only when the public URL cannot be read.
	Server string
}

// CreateResult is the JSON output of capsol enrollments create.
type CreateResult struct {
	client.EnrollmentToken
	CapsuleID string `json:"capsule_id"`
	// EnrollURL is the URL that agents POST the token to.
	EnrollURL string `json:"enroll_url"`
}

// NewCmdCreate returns the capsol enrollments create command.
func NewCmdCreate(f *cmdutil.Factory) *cobra.Command {
	opts := &CreateOptions{}
	var uses, ttlHours int
	cmd := &cobra.Command{
		Use:   "create CAPSULE_ID --role reader|writer",
		Short: "Create an enrollment token for a capsule",
		Long: `Create an enrollment token with POST /v1/capsules/<id>/enrollments. The
token is shown only this once. Give it to the agents that should enroll;
each enrollment consumes one use and creates a share with the token's
role.

Output: the token and the enroll command on a terminal, otherwise (or with
-o json) {"enrollment_id", "token", "expires_at", "capsule_id",
"enroll_url"}. enroll_url starts with the registry's public URL, as share
MCP URLs do; when the public URL cannot be read, it starts with --server.

Exit status: 0 created, 1 failed, 2 usage error, 3 capsule not found,
4 admin key rejected, 5 daemon unreachable.`,
		Example: `  # One agent, within 24 hours
  capsol enrollments create cap_01jcxs0f6ke3kq1c2d2m3t7w4a --role writer

  # A fleet of 20 readers within a week
  capsol enrollments create cap_01jcxs0f6ke3kq1c2d2m3t7w4a --role reader --uses 20 --ttl-hours 168 --label fleet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.CapsuleID = args[0]
			if opts.Request.Role != "reader" && opts.Request.Role != "writer" {
				return cmdutil.UsageError("invalid --role %q: use reader or writer", opts.Request.Role)
			}
			if cmd.Flags().Changed("uses") {
				if uses < 1 {
					return cmdutil.UsageError("invalid --uses %d: give 1 or more", uses)
				}
				opts.Request.Uses = &uses
			}
			if cmd.Flags().Changed("ttl-hours") {
				if ttlHours < 1 {
					return cmdutil.UsageError("invalid --ttl-hours %d: give 1 or more", ttlHours)
				}
				opts.Request.TTLHours = &ttlHours
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			opts.Server = f.ServerURL()
			return RunCreate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Request.Role, "role", "", "role of the shares the token creates: reader or writer (required)")
	cmd.Flags().StringVar(&opts.Request.Label, "label", "", "label of the token, and of its shares when the agent sends none")
	cmd.Flags().IntVar(&uses, "uses", 1, "number of enrollments the token allows")
	cmd.Flags().IntVar(&ttlHours, "ttl-hours", 24, "hours until the token expires")
	return cmd
}

// RunCreate creates the enrollment token and prints it.
func RunCreate(ctx context.Context, opts *CreateOptions) error {
	token, err := opts.Client.CreateEnrollment(ctx, opts.CapsuleID, opts.Request)
	if err != nil {
		if client.ErrorCode(err) == "not_found" {
			return fmt.Errorf("capsule %s: %w; list the capsules with capsol capsules list", opts.CapsuleID, err)
		}
		return err
	}
	base, public := publicBase(ctx, opts)
	result := CreateResult{EnrollmentToken: token, CapsuleID: opts.CapsuleID, EnrollURL: base + "/enroll"}
	p := opts.Printer
	if p.JSON() {
		return p.PrintJSON(result)
	}

	p.Printf("Created enrollment %s for capsule %s, valid until %s UTC.\n\n", p.Bold(token.EnrollmentID), opts.CapsuleID, token.ExpiresAt.UTC().Format(time.DateTime))
	p.Println("Token, shown only this once:")
	p.Printf("  %s\n\n", p.Bold(token.Token))
	body, err := json.Marshal(map[string]string{"token": token.Token, "label": "AGENT-NAME"})
	if err != nil {
		return err
	}
	if public {
		p.Println("An agent enrolls with:")
	} else {
		p.Println("An agent enrolls with (use the registry's public URL from other hosts):")
	}
	p.Printf("  curl -s -X POST -H 'Content-Type: application/json' -d %s %s\n", bootfail.ShellQuote(string(body)), result.EnrollURL)
	return nil
}

// publicBase returns the registry's public URL, which agents on other
// hosts reach, and true. The MCP URL of every capsule is that URL followed
// by /mcp/<capsule-id>. When the MCP URL cannot be read, publicBase
// returns opts.Server and false, because the token is already created and
// must still be printed.
func publicBase(ctx context.Context, opts *CreateOptions) (string, bool) {
	mcpURL, err := opts.Client.CapsuleMCPURL(ctx, opts.CapsuleID)
	if err != nil {
		return opts.Server, false
	}
	base, found := strings.CutSuffix(mcpURL, "/mcp/"+opts.CapsuleID)
	if !found || base == "" {
		return opts.Server, false
	}
	return base, true
}
