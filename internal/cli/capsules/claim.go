package capsules

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// OwnerOptions are the inputs of capsol capsules claim and reassign.
type OwnerOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer

	IDs []string
	// Owner is the operator id of the new owner; empty with Unowned.
	Owner   string
	Unowned bool
	// Claim sends claim_ownership, which only unowned capsules take
	// here; AllUnowned claims every unowned, non-anonymous capsule.
	Claim      bool
	AllUnowned bool
}

// NewCmdClaim returns the capsol capsules claim command.
func NewCmdClaim(f *cmdutil.Factory) *cobra.Command {
	opts := &OwnerOptions{Claim: true}
	cmd := &cobra.Command{
		Use:   "claim [CAPSULE_ID...] --owner OPERATOR_ID",
		Short: "Claim unowned capsules, such as those created before 0.19, for an operator",
		Long: `Claim unowned capsules with PATCH /v1/capsules/<id>
{"claim_ownership": true, "owner_id": OPERATOR_ID}. Capsules created
before 0.19 have no owner. The admin key belongs to no operator, so
--owner names the operator who claims them.

A capsule that already has an owner is left alone and reported; move it
with capsol capsules reassign. --all-unowned claims every unowned capsule
except anonymous ones.

Output: a table of the claimed capsules on a terminal, otherwise (or with
-o json) {"capsules": [capsule as in capsol capsules list]}.

Exit status: 0 done, 1 failed or a capsule is owned, 2 usage error, 3 not
found, 4 admin key rejected, 5 daemon unreachable.`,
		Example: `  capsol capsules claim cap_01jcxs0f6ke3kq1c2d2m3t7w4a --owner op_01jcxs0f6ke3kq1c2d2m3t7w4b
  capsol capsules claim --all-unowned --owner op_01jcxs0f6ke3kq1c2d2m3t7w4b`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Owner == "" {
				return cmdutil.UsageError("--owner is missing: name the operator (op_…) who claims the capsules; capsol operators list shows them")
			}
			if (len(args) == 0) == !opts.AllUnowned {
				return cmdutil.UsageError("give capsule ids or --all-unowned, one of the two")
			}
			return runOwnerCommand(cmd, f, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.Owner, "owner", "", "operator id (op_…) who claims the capsules")
	cmd.Flags().BoolVar(&opts.AllUnowned, "all-unowned", false, "claim every unowned capsule except anonymous ones")
	return cmd
}

func runOwnerCommand(cmd *cobra.Command, f *cmdutil.Factory, opts *OwnerOptions, args []string) error {
	var err error
	if opts.Printer, err = f.Printer(); err != nil {
		return err
	}
	if opts.Client, err = f.Client(); err != nil {
		return err
	}
	opts.IDs = args
	return RunOwner(cmd.Context(), opts)
}

// RunOwner claims or reassigns the capsules of opts and prints them. Every
// capsule is tried, and the error joins the failures.
func RunOwner(ctx context.Context, opts *OwnerOptions) error {
	ids := opts.IDs
	if opts.AllUnowned {
		all, err := opts.Client.ListCapsules(ctx, "", "")
		if err != nil {
			return err
		}
		ids = nil
		for _, c := range all {
			if c.OwnerID == nil && !c.Anonymous {
				ids = append(ids, c.ID)
			}
		}
	}

	updated := []client.Capsule{}
	var errs []error
	for _, id := range ids {
		capsule, err := updateOwner(ctx, opts, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		updated = append(updated, capsule)
	}

	if !opts.Printer.JSON() && len(updated) == 0 {
		if len(errs) == 0 {
			opts.Printer.Println("No unowned capsules to claim.")
		}
		return errors.Join(errs...)
	}
	if err := printCapsules(opts.Printer, updated); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func updateOwner(ctx context.Context, opts *OwnerOptions, id string) (client.Capsule, error) {
	req := client.UpdateCapsuleRequest{}
	if opts.Unowned {
		req.ClearOwner = true
	} else {
		owner := opts.Owner
		req.OwnerID = &owner
	}

	if opts.Claim {
		current, err := opts.Client.GetCapsule(ctx, id)
		if err != nil {
			return client.Capsule{}, fmt.Errorf("capsule %s: %w", id, err)
		}
		if current.OwnerID != nil {
			return client.Capsule{}, fmt.Errorf("capsule %s is owned by %s, so it cannot be claimed; move it with capsol capsules reassign %s --owner %s",
				id, *current.OwnerID, id, opts.Owner)
		}
		req.ClaimOwnership = true
	}

	capsule, err := opts.Client.UpdateCapsule(ctx, id, req)
	if err != nil {
		return client.Capsule{}, fmt.Errorf("capsule %s: %w", id, err)
	}
	return capsule, nil
}
