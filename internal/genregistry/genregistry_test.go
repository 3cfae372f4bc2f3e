package genregistry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/store"
)

func TestGenerateWritesReadableRegistry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry-data")

	res, err := Generate(Options{Dir: dir, Capsules: 8, Size: 800 << 10, Seed: 2})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}

	if res.Capsules != 8 || len(res.IDs) != 8 || res.Files == 0 {
		t.Errorf("result %+v", res)
	}
	if res.Bytes < 600<<10 || res.Bytes > 1200<<10 {
		t.Errorf("box files hold %d bytes, want about %d", res.Bytes, 800<<10)
	}
	if _, _, err := store.Check(dir); err != nil {
		t.Fatalf("store.Check: %v", err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	if got := len(st.Capsules.Get().Capsules); got != 8 {
		t.Errorf("capsules.json has %d capsules, want 8", got)
	}
	if got := len(st.Credentials.Get().Credentials); got != 8 {
		t.Errorf("credentials.json has %d credentials, want 8", got)
	}
	for _, id := range res.IDs {
		boxDir := st.BoxDir(id)
		b, err := box.Open(boxDir, box.Options{})
		if err != nil {
			t.Fatalf("box.Open %s: %v", id, err)
		}
		if entries, blobBytes := b.Stats(); entries == 0 || blobBytes == 0 {
			t.Errorf("box %s has %d entries and %d blob bytes", id, entries, blobBytes)
		}
		if _, err := b.Recall("project/status", ""); err != nil {
			t.Errorf("box %s memory: %v", id, err)
		}
		report, err := auditlog.Verify(filepath.Join(boxDir, "logs"))
		if err != nil {
			t.Fatalf("auditlog.Verify %s: %v", id, err)
		}
		if report.Break != nil {
			t.Errorf("audit log of %s breaks: %v", id, report.Break)
		}
	}
}

func TestGenerateRejectsNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(Options{Dir: dir, Capsules: 1, Size: 10 << 10}); err == nil {
		t.Fatal("Generate wrote into a non-empty directory")
	}
}
