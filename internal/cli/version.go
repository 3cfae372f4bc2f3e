package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the capsol version and data directory schema",
		Example: "  capsol version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "capsol %s (schema %d, %s, %s/%s)\n",
				version.Version, version.Schema, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
