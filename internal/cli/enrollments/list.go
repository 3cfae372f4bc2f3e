package enrollments

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// ListOptions are the inputs of capsol enrollments list.
type ListOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	// CapsuleID lists one capsule's tokens; empty lists every capsule's.
	CapsuleID string
	// Status keeps the tokens with this status; empty keeps all.
	Status string
}

// ListResult is the JSON output of capsol enrollments list.
type ListResult struct {
	Enrollments []client.Enrollment `json:"enrollments"`
}

// NewCmdList returns the capsol enrollments list command.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	opts := &ListOptions{}
	cmd := &cobra.Command{
		Use:   "list [CAPSULE_ID]",
		Short: "List enrollment tokens, of one capsule or of all",
		Long: `List enrollment tokens, without the tokens themselves, from
GET /v1/capsules/<id>/enrollments. Without CAPSULE_ID every capsule is
listed, one request per capsule.

Output: a table on a terminal, otherwise (or with -o json) {"enrollments":
[{"enrollment_id", "capsule_id", "role", "label", "uses_left", "status",
"created_at", "expires_at", "revoked_at"}]}. status is active, exhausted,
expired or revoked.`,
		Example: `  capsol enrollments list
  capsol enrollments list cap_01jcxs0f6ke3kq1c2d2m3t7w4a --status active`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.CapsuleID = args[0]
			}
			switch opts.Status {
			case "", "active", "exhausted", "expired", "revoked":
			default:
				return cmdutil.UsageError("invalid --status %q: use active, exhausted, expired or revoked", opts.Status)
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			return RunList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Status, "status", "", "only tokens with this status: active, exhausted, expired or revoked")
	return cmd
}

// RunList lists the enrollment tokens that opts select.
func RunList(ctx context.Context, opts *ListOptions) error {
	capsuleIDs := []string{opts.CapsuleID}
	if opts.CapsuleID == "" {
		capsules, err := opts.Client.ListCapsules(ctx, "", "")
		if err != nil {
			return err
		}
		capsuleIDs = capsuleIDs[:0]
		for _, c := range capsules {
			capsuleIDs = append(capsuleIDs, c.ID)
		}
	}

	enrollments := []client.Enrollment{}
	for _, id := range capsuleIDs {
		found, err := opts.Client.ListEnrollments(ctx, id)
		if err != nil {
			return err
		}
		for _, e := range found {
			if opts.Status == "" || e.Status == opts.Status {
				enrollments = append(enrollments, e)
			}
		}
	}

	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(ListResult{Enrollments: enrollments})
	}
	if len(enrollments) == 0 {
		opts.Printer.Println("No enrollment tokens match.")
		return nil
	}
	return opts.Printer.Table(tableHeader, tableRows(opts.Printer, enrollments))
}
