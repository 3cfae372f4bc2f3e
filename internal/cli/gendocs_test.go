package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGeneratedFilesAreCurrent regenerates the completion scripts and the
// man pages into a temporary directory and compares them with the
// committed completions/ and man/ of the repository.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	tmp := t.TempDir()
	if err := WriteCompletions(filepath.Join(tmp, "completions")); err != nil {
		t.Fatal(err)
	}
	if err := WriteManPages(filepath.Join(tmp, "man")); err != nil {
		t.Fatal(err)
	}

	for _, dir := range []string{"completions", "man"} {
		committed := filepath.Join("..", "..", dir)
		want := readDir(t, filepath.Join(tmp, dir))
		got := readDir(t, committed)
		for name, content := range want {
			if existing, ok := got[name]; !ok {
				t.Errorf("%s/%s is missing: run make completions man", dir, name)
			} else if !bytes.Equal(existing, content) {
				t.Errorf("%s/%s is stale: run make completions man", dir, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s belongs to no command any more: run make completions man", dir, name)
			}
		}
	}
}

func TestManPagesCoverEveryCommand(t *testing.T) {
	dir := t.TempDir()
	if err := WriteManPages(dir); err != nil {
		t.Fatal(err)
	}
	pages := readDir(t, dir)
	for _, want := range []string{"capsol.1", "capsol-connections-revoke.1", "capsol-keys-rotate-admin.1", "capsol-logs-prune.1", "capsol-backup-verify.1", "capsol-completion.1"} {
		if _, ok := pages[want]; !ok {
			names := make([]string, 0, len(pages))
			for name := range pages {
				names = append(names, name)
			}
			slices.Sort(names)
			t.Errorf("no man page %s among %v", want, names)
		}
	}
}

// readDir returns the regular files of dir by name, ignoring .gitkeep.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == ".gitkeep" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}
