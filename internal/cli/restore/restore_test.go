package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/store"
)

// newBackup generates a small registry, backs it up and returns the data
// directory and the archive.
func newBackup(t *testing.T) (string, string) {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "registry-data")
	if _, err := genregistry.Generate(genregistry.Options{Dir: dataDir, Capsules: 3, Size: 200 << 10, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "b.tgz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Write(f, dataDir, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dataDir, archive
}

func TestRestorePrintsNextSteps(t *testing.T) {
	dataDir, archive := newBackup(t)
	var stdout bytes.Buffer

	err := Run(&Options{Archive: archive, DataDir: dataDir, Format: cmdutil.FormatTable, Stdout: &stdout})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	out := stdout.String()
	for _, want := range []string{
		"Restored " + dataDir, "manifest verified", dataDir + ".broken-",
		"Next steps:", "systemctl start capsol", "curl -s localhost:4000/ready",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}

func TestRestoreJSONResult(t *testing.T) {
	_, archive := newBackup(t)
	target := filepath.Join(t.TempDir(), "new-home")
	var stdout bytes.Buffer

	if err := Run(&Options{Archive: archive, DataDir: target, Format: cmdutil.FormatJSON, Stdout: &stdout}); err != nil {
		t.Fatalf("Run: %v", err)
	}

	var res struct {
		DataDir      string   `json:"data_dir"`
		MovedTo      string   `json:"moved_to"`
		NextSteps    []string `json:"next_steps"`
		Verification struct {
			Manifest bool `json:"manifest"`
			Files    int  `json:"files"`
		} `json:"verification"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if res.DataDir != target || res.MovedTo != "" || len(res.NextSteps) != 3 {
		t.Errorf("result %+v", res)
	}
	if !res.Verification.Manifest || res.Verification.Files == 0 {
		t.Errorf("verification %+v", res.Verification)
	}
}

func TestRestoreRefusedWhileDaemonRuns(t *testing.T) {
	dataDir, archive := newBackup(t)
	lock, err := store.AcquireLock(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	err = Run(&Options{Archive: archive, DataDir: dataDir, Format: cmdutil.FormatTable, Stdout: &bytes.Buffer{}})

	if err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Fatalf("got %v, want the daemon-running error", err)
	}
	if broken, _ := filepath.Glob(dataDir + ".broken-*"); len(broken) != 0 {
		t.Errorf("the data directory was moved: %v", broken)
	}
}

func TestDrillTableOutput(t *testing.T) {
	_, archive := newBackup(t)
	var stdout, stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())

	err := RunDrill(cmd, &DrillOptions{Archive: archive, Format: cmdutil.FormatTable, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		t.Fatalf("RunDrill: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}

	out := stdout.String()
	for _, want := range []string{"restore ", "capsule_info ", "list_entries ", "cleanup ", "PASSED in "} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not contain %q:\n%s", want, out)
		}
	}
}
