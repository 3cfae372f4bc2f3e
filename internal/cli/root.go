// Package cli builds the capsol command tree. Commands that talk to a daemon
// go through pkg/client. Commands that work on a data directory use the
// store packages directly, and never while a daemon holds its lock.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	backupcmd "github.com/capsol/capsol/internal/cli/backup"
	capsulescmd "github.com/capsol/capsol/internal/cli/capsules"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	completioncmd "github.com/capsol/capsol/internal/cli/completion"
	connectionscmd "github.com/capsol/capsol/internal/cli/connections"
	enrollmentscmd "github.com/capsol/capsol/internal/cli/enrollments"
	grantscmd "github.com/capsol/capsol/internal/cli/grants"
	keyscmd "github.com/capsol/capsol/internal/cli/keys"
	logscmd "github.com/capsol/capsol/internal/cli/logs"
	oauthcmd "github.com/capsol/capsol/internal/cli/oauth"
	operatorscmd "github.com/capsol/capsol/internal/cli/operators"
	policycmd "github.com/capsol/capsol/internal/cli/policy"
	restorecmd "github.com/capsol/capsol/internal/cli/restore"
	settingscmd "github.com/capsol/capsol/internal/cli/settings"
	sharescmd "github.com/capsol/capsol/internal/cli/shares"
	statuscmd "github.com/capsol/capsol/internal/cli/status"
)

// Exit codes of the capsol command, defined in cmdutil so that the command
// packages of each noun share them.
const (
	ExitOK           = cmdutil.ExitOK
	ExitFailure      = cmdutil.ExitFailure
	ExitUsage        = cmdutil.ExitUsage
	ExitNotFound     = cmdutil.ExitNotFound
	ExitAuth         = cmdutil.ExitAuth
	ExitUnreachable  = cmdutil.ExitUnreachable
	exitCodeBootFail = 78
)

// ExitError carries an exit status out of a command.
type ExitError = cmdutil.ExitError

// usageError marks errors in flags or arguments.
type usageError struct{ error }

// NewRootCommand builds the capsol command tree with standard input from
// os.Stdin.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	return newRootCommand(cmdutil.NewFactory(os.Stdin, stdout, stderr))
}

// newRootCommand builds the capsol command tree on f, whose viper instance
// holds the global flags of this invocation alone.
func newRootCommand(f *cmdutil.Factory) *cobra.Command {
	stdout, stderr := f.Stdout, f.Stderr
	root := &cobra.Command{
		Use:   "capsol",
		Short: "Operate a capsol registry: serve it, check it, back it up and manage access",
		Long: `capsol is the operator's command for a capsol registry. "capsol serve" runs
the daemon; the other commands wrap the day-2 runbooks, either against the
daemon's /v1 API or directly on the data directory.

Environment: CAPSOL_URL (daemon URL), CAPSOL_ADMIN_KEY (admin key),
CAPSOL_DATA_DIR (data directory), CAPSOL_HOME (admin.key and config.yaml),
NO_COLOR (plain output).

Exit status: 0 success, 1 failure, 2 usage error, 3 not found,
4 authentication or authorization refused, 5 daemon unreachable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f.BindGlobalFlags(root)
	// capsol completion below replaces cobra's default, to give it help
	// with examples.
	root.CompletionOptions.DisableDefaultCmd = true

	root.AddCommand(
		NewServeCommand(),
		newVersionCommand(),
		newDoctorCommand(),
		backupcmd.NewCmdBackup(),
		restorecmd.NewCmdRestore(),
		statuscmd.NewCmdStatus(f),
		keyscmd.NewCmdKeys(f),
		connectionscmd.NewCmdConnections(f),
		oauthcmd.NewCmdOAuth(f),
		grantscmd.NewCmdGrants(f),
		capsulescmd.NewCmdCapsules(f),
		sharescmd.NewCmdShares(f),
		enrollmentscmd.NewCmdEnrollments(f),
		logscmd.NewCmdLogs(f),
		policycmd.NewCmdPolicy(f),
		operatorscmd.NewCmdOperators(f),
		settingscmd.NewCmdSettings(f),
		completioncmd.NewCmdCompletion(),
	)
	return root
}

// Execute runs the command tree with args and returns the exit status.
func Execute(args []string, stdout, stderr io.Writer) int {
	return ExecuteWithInput(args, os.Stdin, stdout, stderr)
}

// ExecuteWithInput is Execute with standard input from stdin, which
// confirmations read.
func ExecuteWithInput(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(cmdutil.NewFactory(stdin, stdout, stderr))
	root.SetArgs(args)
	return exitStatus(root.Execute(), stderr)
}

// exitStatus prints err on stderr and returns the exit status it maps to.
// Usage errors are recognized here; every other error is mapped by
// cmdutil.Classify, the one place that turns API and connection errors
// into exit statuses.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}

	var exitErr *ExitError
	var usage usageError
	if !errors.As(err, &exitErr) && !errors.As(err, &usage) && !isCobraUsageError(err) {
		err = cmdutil.Classify(err)
	}
	if errors.As(err, &exitErr) {
		if exitErr.Err != nil && exitErr.Code != exitCodeBootFail {
			fmt.Fprintln(stderr, "Error:", exitErr.Err)
		}
		return exitErr.Code
	}
	fmt.Fprintln(stderr, "Error:", err)
	fmt.Fprintln(stderr, "Run 'capsol --help' for usage.")
	return ExitUsage
}

// isCobraUsageError recognizes cobra's own argument errors, which it returns
// as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "invalid argument", "unknown flag", "unknown shorthand flag", "flag needs an argument", "required flag"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// Main is the entry point of cmd/capsol.
func Main() {
	os.Exit(Execute(os.Args[1:], os.Stdout, os.Stderr))
}

// ExecuteCommand runs a single command, such as capsold's serve command,
// with the exit-status rules of Execute.
func ExecuteCommand(cmd *cobra.Command, args []string) int {
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return exitStatus(cmd.Execute(), cmd.ErrOrStderr())
}
