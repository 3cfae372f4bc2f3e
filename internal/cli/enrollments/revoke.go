package enrollments

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// RevokeOptions are the inputs of capsol enrollments revoke.
type RevokeOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	IDs     []string
}

// RevokeResult is the JSON output of capsol enrollments revoke.
type RevokeResult struct {
	Revoked []string `json:"revoked"`
}

// NewCmdRevoke returns the capsol enrollments revoke command.
func NewCmdRevoke(f *cmdutil.Factory) *cobra.Command {
	opts := &RevokeOptions{}
	return &cobra.Command{
		Use:   "revoke ENROLLMENT_ID...",
		Short: "Revoke enrollment tokens",
		Long: `Revoke enrollment tokens with DELETE /v1/enrollments/<id>: further
enrollments with them are refused with 401 invalid_token. Shares already
made with a token stay; revoke them with capsol connections revoke.

Output: one line per token on a terminal, otherwise (or with -o json)
{"revoked": [ids]}. When every token fails, nothing is printed on stdout.

Exit status: 0 done, 1 failed, 2 usage error, 3 not found, 4 admin key
rejected, 5 daemon unreachable.`,
		Example: `  capsol enrollments revoke enr_01jcxs0f6ke3kq1c2d2m3t7w4a`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			if opts.Client, err = f.Client(); err != nil {
				return err
			}
			opts.IDs = args
			return RunRevoke(cmd.Context(), opts)
		},
	}
}

// RunRevoke revokes each token of opts. Every token is tried, and the
// error joins the failures. When every token failed, nothing is printed
// on stdout.
func RunRevoke(ctx context.Context, opts *RevokeOptions) error {
	result := RevokeResult{Revoked: []string{}}
	var errs []error
	for _, id := range opts.IDs {
		if err := opts.Client.RevokeEnrollment(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("enrollment %s: %w", id, err))
			continue
		}
		result.Revoked = append(result.Revoked, id)
	}
	if len(result.Revoked) == 0 {
		return errors.Join(errs...)
	}

	if opts.Printer.JSON() {
		if err := opts.Printer.PrintJSON(result); err != nil {
			return err
		}
		return errors.Join(errs...)
	}
	for _, id := range result.Revoked {
		opts.Printer.Printf("Revoked enrollment %s\n", id)
	}
	return errors.Join(errs...)
}
