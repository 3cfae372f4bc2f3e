// Command capsol is the operator's CLI for a capsol registry.
package main

import "github.com/capsol/capsol/internal/cli"

func main() { cli.Main() }
