package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/genregistry"
)

// benchBytesPerCapsule gives 10,000 capsules for CAPSOL_BENCH_SIZE=1GB.
const benchBytesPerCapsule = 100_000

// benchRegistry returns a cached registry of CAPSOL_BENCH_SIZE bytes
// (default 50MB, so that make bench stays quick) with one capsule per
// 100 kB.
func benchRegistry(b *testing.B) string {
	b.Helper()
	sizeText := os.Getenv("CAPSOL_BENCH_SIZE")
	if sizeText == "" {
		sizeText = "50MB"
	}
	size, err := cmdutil.ParseSize(sizeText)
	if err != nil {
		b.Fatalf("CAPSOL_BENCH_SIZE: %v", err)
	}
	capsules := int(max(size/benchBytesPerCapsule, 1))
	dir, err := genregistry.Cached(size, capsules)
	if err != nil {
		b.Fatalf("generate the benchmark registry: %v", err)
	}
	return dir
}

// BenchmarkBackupVsTar times backup.Write and the manual runbook's
// tar -czf on the same registry in each iteration and reports both, the
// ratio tar/capsol (1.0 or more means capsol is at least as fast) and the
// archive sizes.
func BenchmarkBackupVsTar(b *testing.B) {
	dataDir := benchRegistry(b)
	out := b.TempDir()
	// Read every file once, so that neither side pays for a cold cache.
	if err := exec.Command("tar", "-cf", "/dev/null", "-C", filepath.Dir(dataDir), filepath.Base(dataDir)).Run(); err != nil {
		b.Fatalf("warm the page cache: %v", err)
	}

	var capsolTime, tarTime time.Duration
	var capsolBytes, tarBytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		archive := filepath.Join(out, "capsol.tgz")
		started := time.Now()
		f, err := os.Create(archive)
		if err != nil {
			b.Fatal(err)
		}
		res, err := backup.Write(f, dataDir, backup.Options{})
		if err != nil {
			b.Fatalf("Write: %v", err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		capsolTime += time.Since(started)
		capsolBytes = res.ArchiveBytes

		manual := filepath.Join(out, "tar.tgz")
		started = time.Now()
		tar := exec.Command("tar", "-czf", manual, "-C", filepath.Dir(dataDir), filepath.Base(dataDir))
		if output, err := tar.CombinedOutput(); err != nil {
			b.Fatalf("tar -czf: %v\n%s", err, output)
		}
		tarTime += time.Since(started)
		info, err := os.Stat(manual)
		if err != nil {
			b.Fatal(err)
		}
		tarBytes = info.Size()

		_ = os.Remove(archive)
		_ = os.Remove(manual)
	}
	b.StopTimer()

	n := float64(b.N)
	b.ReportMetric(capsolTime.Seconds()/n, "capsol-s/op")
	b.ReportMetric(tarTime.Seconds()/n, "tar-s/op")
	b.ReportMetric(tarTime.Seconds()/capsolTime.Seconds(), "tar/capsol")
	b.ReportMetric(float64(capsolBytes)/1e6, "capsol-MB")
	b.ReportMetric(float64(tarBytes)/1e6, "tar-MB")
}

// BenchmarkVerify times backup.Verify of an archive of the registry.
func BenchmarkVerify(b *testing.B) {
	dataDir := benchRegistry(b)
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

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := backup.Verify(archive); err != nil {
			b.Fatal(err)
		}
	}
}
