// Package cli builds the capsol command tree. Commands that talk to a daemon
// go through pkg/client; commands that work on a data directory use the
// store packages directly and never while a daemon holds its lock.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	backupcmd "github.com/capsol/capsol/internal/cli/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	restorecmd "github.com/capsol/capsol/internal/cli/restore"
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

// NewRootCommand builds the capsol command tree.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "capsol",
		Short: "Operate a capsol registry: serve it, check it, back it up and manage access",
		Long: `capsol is the operator's command for a capsol registry. "capsol serve" runs
the daemon; the other commands wrap the day-2 runbooks, either against the
daemon's /v1 API or directly on the data directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		NewServeCommand(),
		newVersionCommand(),
		newDoctorCommand(),
		backupcmd.NewCmdBackup(),
		restorecmd.NewCmdRestore(),
	)
	return root
}

// Execute runs the command tree with args and returns the exit status.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := NewRootCommand(stdout, stderr)
	root.SetArgs(args)
	return exitStatus(root.Execute(), stderr)
}

func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}

	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		if exitErr.Err != nil && exitErr.Code != exitCodeBootFail {
			fmt.Fprintln(stderr, "Error:", exitErr.Err)
		}
		return exitErr.Code
	}
	fmt.Fprintln(stderr, "Error:", err)
	var usage usageError
	if errors.As(err, &usage) || isCobraUsageError(err) {
		fmt.Fprintln(stderr, "Run 'capsol --help' for usage.")
		return ExitUsage
	}
	return ExitFailure
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
