package cli

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/store"
)

// TestBackupRestoreExitCodes runs the backup and restore commands through
// Execute and checks the exit status of each outcome.
func TestBackupRestoreExitCodes(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "registry-data")
	if _, err := genregistry.Generate(genregistry.Options{Dir: dataDir, Capsules: 2, Size: 100 << 10, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	archive := filepath.Join(work, "b.tgz")
	corrupt := filepath.Join(work, "corrupt.tgz")
	if err := os.WriteFile(corrupt, []byte("not an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedServer := "http://" + ln.Addr().String()
	ln.Close()
	locked := filepath.Join(t.TempDir(), "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	lock, err := store.AcquireLock(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	tests := []struct {
		name   string
		args   []string
		want   int
		stderr string
	}{
		{"backup", []string{"backup", "--data-dir", dataDir, "-o", archive}, ExitOK, ""},
		{"backup to an existing file", []string{"backup", "--data-dir", dataDir, "-o", archive}, ExitFailure, "--force"},
		{"backup of a missing directory", []string{"backup", "--data-dir", filepath.Join(work, "missing"), "-o", filepath.Join(work, "x.tgz")}, ExitFailure, "does not exist"},
		{"backup with an unknown flag", []string{"backup", "--bogus"}, ExitUsage, "unknown flag"},
		{"backup with an invalid format", []string{"backup", "--format", "xml", "--data-dir", dataDir}, ExitUsage, "invalid output format"},
		{"backup from an unreachable server", []string{"backup", "--from-server", "--server", closedServer, "--key", "capsol-test-admin-key-0123456789", "-o", filepath.Join(work, "y.tgz")}, ExitUnreachable, closedServer},
		{"verify", []string{"backup", "verify", archive}, ExitOK, ""},
		{"verify without a file", []string{"backup", "verify"}, ExitUsage, "accepts 1 arg"},
		{"verify of a corrupt archive", []string{"backup", "verify", corrupt}, ExitFailure, "failed verification"},
		{"verify with an invalid size limit", []string{"backup", "verify", "--max-file-size", "lots", archive}, ExitUsage, "--max-file-size"},
		{"restore while a daemon holds the lock", []string{"restore", "--data-dir", locked, archive}, ExitFailure, "stop it first"},
		{"restore of a corrupt archive", []string{"restore", "--data-dir", filepath.Join(work, "restored"), corrupt}, ExitFailure, "not a gzip-compressed archive"},
		{"restore", []string{"restore", "--data-dir", filepath.Join(work, "restored"), archive}, ExitOK, ""},
		{"restore drill", []string{"restore", "drill", "--scratch-dir", t.TempDir(), archive}, ExitOK, ""},
		{"restore drill of a corrupt archive", []string{"restore", "drill", "--scratch-dir", t.TempDir(), corrupt}, ExitFailure, `step "restore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := Execute(tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", got, tt.want, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
}
