package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/genregistry"
	"github.com/capsol/capsol/internal/store"
)

// newRegistry generates a small registry at <t.TempDir()>/registry-data.
func newRegistry(t testing.TB, capsules int, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "registry-data")
	if _, err := genregistry.Generate(genregistry.Options{Dir: dir, Capsules: capsules, Size: size, Seed: 7}); err != nil {
		t.Fatalf("generate registry: %v", err)
	}
	return dir
}

// leaveLockFile leaves capsold.lock in dir as a stopped daemon does.
func leaveLockFile(t *testing.T, dir string) {
	t.Helper()
	lock, err := store.AcquireLock(dir)
	if err != nil {
		t.Fatalf("acquire lock: %v", err)
	}
	if err := lock.SetURL("http://127.0.0.1:4999"); err != nil {
		t.Fatalf("set lock URL: %v", err)
	}
	if err := lock.Release(); err != nil {
		t.Fatalf("release lock: %v", err)
	}
}

// writeBackup writes a backup of dataDir with Write and returns its path.
func writeBackup(t *testing.T, dataDir string) (string, *Result) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capsol-backup.tgz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Write(f, dataDir, Options{})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, res
}

// fileState is what a tree comparison looks at.
type fileState struct {
	dir  bool
	mode fs.FileMode
	sum  string
}

// treeState returns the state of every path below dir, without the names
// in skip.
func treeState(t *testing.T, dir string, skip ...string) map[string]fileState {
	t.Helper()
	state := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if slices.Contains(skip, rel) {
			return nil
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		s := fileState{dir: info.IsDir(), mode: info.Mode()}
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			s.sum = hex.EncodeToString(sum[:])
		}
		state[rel] = s
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return state
}

// assertSameTree fails unless both trees have the same paths, bytes and
// modes.
func assertSameTree(t *testing.T, want, got map[string]fileState) {
	t.Helper()
	for path, w := range want {
		g, ok := got[path]
		if !ok {
			t.Errorf("%s is missing", path)
			continue
		}
		if g != w {
			t.Errorf("%s: got %+v, want %+v", path, g, w)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("%s is unexpected", path)
		}
	}
}

// archiveMembers returns the member names of a gzip-compressed tar file.
func archiveMembers(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	eachMember(t, path, func(hdr *tar.Header, _ []byte) { names = append(names, hdr.Name) })
	return names
}

func eachMember(t *testing.T, path string, fn func(hdr *tar.Header, data []byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read %s: %v", hdr.Name, err)
		}
		fn(hdr, data)
	}
}

// rewriteArchive copies the archive at src to a new file, passing every
// member through edit, which may change it or return false to drop it.
func rewriteArchive(t *testing.T, src string, edit func(hdr *tar.Header, data []byte) ([]byte, bool)) string {
	t.Helper()
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	tw := tar.NewWriter(gz)
	eachMember(t, src, func(hdr *tar.Header, data []byte) {
		data, keep := edit(hdr, data)
		if !keep {
			return
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "edited.tgz")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// craftedMember is one member of a hand-made archive.
type craftedMember struct {
	hdr  tar.Header
	data []byte
	// truncate ends the archive right after this member's header, so its
	// header can claim a size that is never written.
	truncate bool
}

// craftArchive writes a gzip-compressed tar of members and returns its path.
func craftArchive(t *testing.T, members ...craftedMember) string {
	t.Helper()
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		hdr := m.hdr
		if hdr.ModTime.IsZero() {
			hdr.ModTime = time.Unix(1_700_000_000, 0)
		}
		if hdr.Typeflag == tar.TypeReg && !m.truncate {
			hdr.Size = int64(len(m.data))
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("write header %s: %v", hdr.Name, err)
		}
		if m.truncate {
			_ = tw.Flush()
			break
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatalf("write %s: %v", hdr.Name, err)
		}
	}
	_ = tw.Close()
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "crafted.tgz")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// runShell runs a POSIX shell script with extra environment variables.
func runShell(t *testing.T, script string, env ...string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}
