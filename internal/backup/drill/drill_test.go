package drill

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/store"
)

// backupOf writes a backup of dataDir and returns its path.
func backupOf(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capsol-backup.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Write(f, dataDir, backup.Options{}); err != nil {
		t.Fatalf("backup.Write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func generatedBackup(t *testing.T, capsules int) (string, *genregistry.Result) {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "registry-data")
	res, err := genregistry.Generate(genregistry.Options{Dir: dataDir, Capsules: capsules, Size: int64(capsules) * 40 << 10, Seed: 3})
	if err != nil {
		t.Fatalf("generate registry: %v", err)
	}
	return backupOf(t, dataDir), res
}

func stepNames(r *Report) []string {
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	return names
}

func TestDrillReadsCapsule(t *testing.T) {
	archive, generated := generatedBackup(t, 4)
	scratch := t.TempDir()
	var reported []string

	report, err := Run(context.Background(), archive, Options{
		ScratchDir: scratch,
		OnStep:     func(s Step) { reported = append(reported, s.Name) },
	})
	if err != nil {
		t.Fatalf("Run: %v\nsteps: %+v\ndaemon log: %s", err, report.Steps, strings.Join(report.DaemonLog, "\n"))
	}

	want := []string{StepRestore, StepBoot, StepReady, StepCapsule, StepShare, StepConnect,
		StepCapsuleInfo, StepListEntries, StepReadEntry, StepShutdown, StepCleanup}
	if got := stepNames(report); !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
	if !slices.Equal(reported, want) {
		t.Errorf("OnStep saw %v, want %v", reported, want)
	}
	if !report.OK || !slices.Contains(generated.IDs, report.CapsuleID) {
		t.Errorf("ok %v, capsule %q not among the generated ones", report.OK, report.CapsuleID)
	}
	if report.EntryCount == 0 || report.Listed == 0 {
		t.Errorf("entry_count %d, listed %d: want entries", report.EntryCount, report.Listed)
	}
	for _, s := range report.Steps {
		if s.Error != "" || s.Duration <= 0 {
			t.Errorf("step %q: error %q, duration %v", s.Name, s.Error, s.Duration)
		}
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch directory not cleaned up: %v", left)
	}
}

func TestDrillEmptyRegistryPasses(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Initialize(dataDir); err != nil {
		t.Fatal(err)
	}
	archive := backupOf(t, dataDir)

	report, err := Run(context.Background(), archive, Options{ScratchDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if report.Note != NoCapsulesNote || report.CapsuleID != "" {
		t.Errorf("note %q capsule %q, want the no-capsules note", report.Note, report.CapsuleID)
	}
	if got := stepNames(report); !slices.Equal(got, []string{StepRestore, StepBoot, StepReady, StepCapsule, StepShutdown, StepCleanup}) {
		t.Errorf("steps %v", got)
	}
}

func TestDrillFailsOnCorruptArchive(t *testing.T) {
	archive := filepath.Join(t.TempDir(), "corrupt.tgz")
	if err := os.WriteFile(archive, []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()

	report, err := Run(context.Background(), archive, Options{ScratchDir: scratch})

	if err == nil || !strings.Contains(err.Error(), `step "restore"`) {
		t.Fatalf("got %v, want a failure at the restore step", err)
	}
	if report.OK {
		t.Error("report says ok")
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch directory not cleaned up: %v", left)
	}
}

func TestDrillUnknownCapsuleFails(t *testing.T) {
	archive, _ := generatedBackup(t, 1)
	missing := "cap_01jc0000000000000000000000"

	report, err := Run(context.Background(), archive, Options{ScratchDir: t.TempDir(), CapsuleID: missing})

	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("got %v, want an error naming %s", err, missing)
	}
	last := report.Steps[len(report.Steps)-1]
	if last.Name != StepCleanup || last.Error != "" {
		t.Errorf("last step %+v, want a clean cleanup", last)
	}
	if len(report.DaemonLog) == 0 {
		t.Error("a failure after boot reports no daemon log")
	}
}
