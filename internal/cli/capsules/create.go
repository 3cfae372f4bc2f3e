package capsules

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// CreateOptions are the inputs of capsol capsules create.
type CreateOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer
	Request client.CreateCapsuleRequest
}

// NewCmdCreate returns the capsol capsules create command.
func NewCmdCreate(f *cmdutil.Factory) *cobra.Command {
	opts := &CreateOptions{}
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a capsule",
		Long: `Create a capsule with POST /v1/capsules. Give agents access with capsol
shares create or capsol enrollments create.

Output: the capsule on a terminal, otherwise (or with -o json) the capsule
object as in capsol capsules list.`,
		Example: `  capsol capsules create "design notes"
  id=$(capsol capsules create "release notes" --owner op_01jc... -o json | jq -r .id)
  capsol shares create "$id" --label ci-bot --role reader`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Request.Name = args[0]
			if strings.TrimSpace(opts.Request.Name) == "" {
				return cmdutil.UsageError("the capsule name is empty; give a name such as \"design notes\"")
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
	cmd.Flags().StringVar(&opts.Request.OwnerID, "owner", "", "operator id (op_…) who owns the capsule (default: unowned)")
	return cmd
}

// RunCreate creates the capsule and prints it.
func RunCreate(ctx context.Context, opts *CreateOptions) error {
	capsule, err := opts.Client.CreateCapsule(ctx, opts.Request)
	if err != nil {
		return err
	}
	if opts.Printer.JSON() {
		return opts.Printer.PrintJSON(capsule)
	}
	if err := opts.Printer.Table(tableHeader, tableRows([]client.Capsule{capsule})); err != nil {
		return err
	}
	opts.Printer.Printf("\nNext: capsol shares create %s --label LABEL --role reader|writer\n", capsule.ID)
	return nil
}
