// Command gen-registry writes a synthetic capsol data directory for
// benchmarks and restore drills:
//
//	go run ./scripts/gen-registry --dir /tmp/capsol-1g --capsules 10000 --size 1GB
//
// The index files contain the capsules and one reader share for each. Every
// capsule's box contains Markdown entries, a blob, a memory and a day of
// audit log, in the on-disk format of internal/box. See internal/genregistry.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/genregistry"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen-registry:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("gen-registry", flag.ContinueOnError)
	dir := flags.String("dir", "", "data directory to create; it must not exist or be empty (required)")
	capsules := flags.Int("capsules", 100, "number of capsules")
	size := flags.String("size", "50MB", "approximate size of the box files: a number with B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)")
	seed := flags.Uint64("seed", 1, "seed of the generated content")
	workers := flags.Int("workers", 0, "capsules written at once (default: one per CPU)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required, e.g. --dir /tmp/capsol-bench/registry-data")
	}
	bytes, err := cmdutil.ParseSize(*size)
	if err != nil {
		return err
	}

	started := time.Now()
	res, err := genregistry.Generate(genregistry.Options{
		Dir: *dir, Capsules: *capsules, Size: bytes, Seed: *seed, Workers: *workers,
		Progress: func(done, total int) {
			if done%1000 == 0 || done == total {
				fmt.Fprintf(os.Stderr, "\r%d/%d capsules", done, total)
			}
		},
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"dir": res.Dir, "capsules": res.Capsules, "box_files": res.Files, "box_bytes": res.Bytes,
		"seconds": time.Since(started).Round(time.Millisecond).Seconds(),
	})
}
