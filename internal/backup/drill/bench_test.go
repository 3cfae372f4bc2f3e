package drill

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/genregistry"
)

// BenchmarkRestoreDrill times a whole drill of a backup of the registry
// that CAPSOL_BENCH_SIZE names (default 50MB, one capsule per 100 kB, as in
// internal/backup's benchmarks) and reports the wall time of the drill and
// of each step.
func BenchmarkRestoreDrill(b *testing.B) {
	sizeText := os.Getenv("CAPSOL_BENCH_SIZE")
	if sizeText == "" {
		sizeText = "50MB"
	}
	size, err := cmdutil.ParseSize(sizeText)
	if err != nil {
		b.Fatalf("CAPSOL_BENCH_SIZE: %v", err)
	}
	dataDir, err := genregistry.Cached(size, int(max(size/100_000, 1)))
	if err != nil {
		b.Fatalf("generate the benchmark registry: %v", err)
	}
	archive := filepath.Join(b.TempDir(), "capsol.tgz")
	f, err := os.Create(archive)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := backup.Write(f, dataDir, backup.Options{}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	scratch := b.TempDir()

	steps := map[string]time.Duration{}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		started := time.Now()
		report, err := Run(context.Background(), archive, Options{ScratchDir: scratch})
		if err != nil {
			b.Fatalf("drill: %v", err)
		}
		total += time.Since(started)
		for _, s := range report.Steps {
			steps[s.Name] += s.Duration
		}
	}
	b.StopTimer()

	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "drill-s/op")
	for name, d := range steps {
		// Metric units may not contain spaces.
		b.ReportMetric(d.Seconds()/n, strings.ReplaceAll(name, " ", "-")+"-s/op")
	}
}
