// Package completion holds capsol completion, which writes the shell
// completion script of the capsol command tree.
package completion

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Shells lists the shells completion scripts are made for.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// NewCmdCompletion returns the capsol completion command.
func NewCmdCompletion() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Write the shell completion script",
		Long: `Write the completion script of capsol for a shell to standard output. The
same scripts are in the completions/ directory of the source tree, for
packages to install.`,
		Example: `  # bash, for the current user
  capsol completion bash > ~/.local/share/bash-completion/completions/capsol

  # zsh: a directory on $fpath
  capsol completion zsh > "${fpath[1]}/_capsol"

  # fish
  capsol completion fish > ~/.config/fish/completions/capsol.fish

  # PowerShell, for the current session
  capsol completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: Shells,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return Write(cmd.Root(), args[0], cmd.OutOrStdout())
		},
	}
}

// Write writes the completion script of root for shell to w.
func Write(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	case "powershell":
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("no completion for shell %q: use bash, zsh, fish or powershell", shell)
}
