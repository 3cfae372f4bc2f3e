// Command capsold is the capsol registry daemon. It behaves exactly like
// "capsol serve".
package main

import (
	"os"

	"github.com/capsol/capsol/internal/cli"
)

func main() {
	cmd := cli.NewServeCommand()
	cmd.Use = "capsold"
	cmd.Short = "The capsol registry daemon"
	os.Exit(cli.ExecuteCommand(cmd, os.Args[1:]))
}
