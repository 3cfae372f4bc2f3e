// Command gen-docs writes the shell completion scripts and the man pages
// of capsol from its command tree: make completions and make man run it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/capsol/capsol/internal/cli"
)

func main() {
	completions := flag.String("completions", "", "directory to write the completion scripts into")
	man := flag.String("man", "", "directory to write the man pages into")
	flag.Parse()
	if *completions == "" && *man == "" {
		fmt.Fprintln(os.Stderr, "gen-docs: nothing to do; pass -completions DIR, -man DIR or both")
		os.Exit(2)
	}

	if *completions != "" {
		if err := cli.WriteCompletions(*completions); err != nil {
			fmt.Fprintln(os.Stderr, "gen-docs:", err)
			os.Exit(1)
		}
	}
	if *man != "" {
		if err := cli.WriteManPages(*man); err != nil {
			fmt.Fprintln(os.Stderr, "gen-docs:", err)
			os.Exit(1)
		}
	}
}
