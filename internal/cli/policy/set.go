package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/pkg/client"
)

// maxPolicyFileBytes bounds a policy file; the API accepts 1 MiB bodies.
const maxPolicyFileBytes = 1 << 20

// SetOptions are the inputs of capsol policy set.
type SetOptions struct {
	Client  *client.Client
	Printer cmdutil.Printer

	// File is a JSON policy object to apply; its fields replace the current
	// ones and absent fields keep theirs. Nil means no file.
	File []byte
	// Apply changes the policy after File, with the fields given as flags.
	Apply func(p *client.Policy)
}

// NewCmdSet returns the capsol policy set command.
func NewCmdSet(f *cmdutil.Factory) *cobra.Command {
	opts := &SetOptions{}
	var file string
	var values client.Policy
	cmd := &cobra.Command{
		Use:   "set [--FIELD=VALUE...] [--file FILE]",
		Short: "Change policy fields",
		Long: `Change the policy with PUT /v1/policy. Each field is a flag named like the
JSON field with dashes; --file applies a JSON policy object first, such as
the output of capsol policy get -o json, and the flags come after it.
Fields that are neither in the file nor given as flags keep their value.

Fields:
  allowed_roles                   roles that shares, enrollments and grants may carry
  max_grant_age_days              the janitor revokes older grants; 0 is off
  max_idle_days                   the janitor revokes grants unused this long; 0 is off
  allow_anonymous_capsules        enables POST /anonymous/capsules
  anonymous_capsule_ttl_hours     lifetime of anonymous capsules
  signal_ttl_seconds              default signal TTL
  max_pending_grants_per_capsule  further OAuth requests answer 429

Output: the new policy, as capsol policy get.`,
		Example: `  capsol policy set --max-grant-age-days 90 --max-idle-days 30
  capsol policy set --allowed-roles reader
  capsol policy set --allow-anonymous-capsules=false
  capsol policy get -o json > policy.json && $EDITOR policy.json && capsol policy set --file policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				data, err := readPolicyFile(file, f.Stdin)
				if err != nil {
					return err
				}
				opts.File = data
			}
			opts.Apply = changedFields(cmd.Flags(), &values)
			if opts.File == nil && opts.Apply == nil {
				return cmdutil.UsageError("nothing to change: give fields as flags, such as --max-grant-age-days 90, or --file FILE (capsol policy set --help lists them)")
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
	flags.StringVarP(&file, "file", "f", "", `JSON policy object to apply, or "-" for standard input`)
	flags.StringSliceVar(&values.AllowedRoles, "allowed-roles", nil, "comma-separated roles that shares, enrollments and grants may carry: reader, writer")
	flags.IntVar(&values.MaxGrantAgeDays, "max-grant-age-days", 0, "revoke grants older than this many days; 0 turns it off")
	flags.IntVar(&values.MaxIdleDays, "max-idle-days", 0, "revoke grants unused for this many days; 0 turns it off")
	flags.BoolVar(&values.AllowAnonymousCapsules, "allow-anonymous-capsules", false, "allow POST /anonymous/capsules (use --allow-anonymous-capsules=false to forbid)")
	flags.IntVar(&values.AnonymousCapsuleTTLHours, "anonymous-capsule-ttl-hours", 0, "lifetime of anonymous capsules in hours")
	flags.IntVar(&values.SignalTTLSeconds, "signal-ttl-seconds", 0, "default signal TTL in seconds")
	flags.IntVar(&values.MaxPendingGrantsPerCapsule, "max-pending-grants-per-capsule", 0, "pending OAuth requests per capsule before further ones answer 429")
	return cmd
}

// changedFields returns a function that copies the fields given as flags
// from values, or nil when no field flag was given.
func changedFields(flags *pflag.FlagSet, values *client.Policy) func(p *client.Policy) {
	setters := map[string]func(p *client.Policy){
		"allowed-roles":                  func(p *client.Policy) { p.AllowedRoles = values.AllowedRoles },
		"max-grant-age-days":             func(p *client.Policy) { p.MaxGrantAgeDays = values.MaxGrantAgeDays },
		"max-idle-days":                  func(p *client.Policy) { p.MaxIdleDays = values.MaxIdleDays },
		"allow-anonymous-capsules":       func(p *client.Policy) { p.AllowAnonymousCapsules = values.AllowAnonymousCapsules },
		"anonymous-capsule-ttl-hours":    func(p *client.Policy) { p.AnonymousCapsuleTTLHours = values.AnonymousCapsuleTTLHours },
		"signal-ttl-seconds":             func(p *client.Policy) { p.SignalTTLSeconds = values.SignalTTLSeconds },
		"max-pending-grants-per-capsule": func(p *client.Policy) { p.MaxPendingGrantsPerCapsule = values.MaxPendingGrantsPerCapsule },
	}
	var apply []func(p *client.Policy)
	flags.Visit(func(flag *pflag.Flag) {
		if set, ok := setters[flag.Name]; ok {
			apply = append(apply, set)
		}
	})
	if len(apply) == 0 {
		return nil
	}
	return func(p *client.Policy) {
		for _, set := range apply {
			set(p)
		}
	}
}

// RunSet applies opts to the current policy and prints the result.
func RunSet(ctx context.Context, opts *SetOptions) error {
	policy, err := opts.Client.GetPolicy(ctx)
	if err != nil {
		return err
	}
	if opts.File != nil {
		dec := json.NewDecoder(bytes.NewReader(opts.File))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&policy); err != nil {
			return cmdutil.UsageError("invalid policy file: %v; it must be one JSON object with the fields of capsol policy get -o json", err)
		}
	}
	if opts.Apply != nil {
		opts.Apply(&policy)
	}

	updated, err := opts.Client.SetPolicy(ctx, policy)
	if err != nil {
		return fmt.Errorf("set the policy: %w", err)
	}
	return printPolicy(opts.Printer, updated)
}

func readPolicyFile(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return nil, cmdutil.UsageError("--file: %v", err)
		}
		defer file.Close()
		r = file
	}
	data, err := io.ReadAll(io.LimitReader(r, maxPolicyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the policy file: %w", err)
	}
	if len(data) > maxPolicyFileBytes {
		return nil, cmdutil.UsageError("--file %s is over 1 MiB; a policy object is a few hundred bytes", path)
	}
	return data, nil
}
