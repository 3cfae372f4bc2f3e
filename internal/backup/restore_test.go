package backup

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/store"
)

func TestRestoreRoundTrip(t *testing.T) {
	dataDir := newRegistry(t, 3, 300<<10)
	leaveLockFile(t, dataDir)
	want := treeState(t, dataDir, store.LockFile)
	archive, _ := writeBackup(t, dataDir)
	target := filepath.Join(t.TempDir(), "restored")

	res, err := Restore(archive, target, RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}

	assertSameTree(t, want, treeState(t, target))
	if res.MovedTo != "" {
		t.Errorf("MovedTo = %q for a target that did not exist", res.MovedTo)
	}
	if !res.Report.Manifest || !res.Report.OK() {
		t.Errorf("report %+v", res.Report)
	}
	if _, err := os.Stat(filepath.Join(target, ManifestName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the manifest was extracted into the data directory: %v", err)
	}
}

func TestRestoreManualTarArchive(t *testing.T) {
	dataDir := newRegistry(t, 3, 300<<10)
	leaveLockFile(t, dataDir)
	want := treeState(t, dataDir, store.LockFile)
	archive := filepath.Join(t.TempDir(), "capsol-backup-manual.tgz")
	// The backup command of the operations page, as written.
	runShell(t, `tar -czf "$ARCHIVE" \
  -C "$(dirname "$CAPSOL_DATA_DIR")" "$(basename "$CAPSOL_DATA_DIR")"`,
		"ARCHIVE="+archive, "CAPSOL_DATA_DIR="+dataDir)
	target := filepath.Join(t.TempDir(), "other-name")

	res, err := Restore(archive, target, RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}

	assertSameTree(t, want, treeState(t, target))
	if res.Report.Manifest {
		t.Error("report claims a manifest for a manual archive")
	}
	if !slices.Contains(res.Report.Notes, NoManifestNote) {
		t.Errorf("notes %q, want the no-manifest note", res.Report.Notes)
	}
}

func TestManualRestoreOfCapsolArchive(t *testing.T) {
	dataDir := newRegistry(t, 3, 300<<10)
	want := treeState(t, dataDir)
	archive, _ := writeBackup(t, dataDir)
	original := filepath.Join(t.TempDir(), "original")
	runShell(t, `cp -a "$CAPSOL_DATA_DIR" "$ORIGINAL"`, "CAPSOL_DATA_DIR="+dataDir, "ORIGINAL="+original)

	// The restore drill of the operations page, without the service steps.
	runShell(t, `mv "$CAPSOL_DATA_DIR" "$CAPSOL_DATA_DIR.broken-$(date +%s)"
tar -xzf "$ARCHIVE" -C "$(dirname "$CAPSOL_DATA_DIR")"`,
		"ARCHIVE="+archive, "CAPSOL_DATA_DIR="+dataDir)

	got := treeState(t, dataDir, ManifestName)
	assertSameTree(t, want, got)
	if _, err := os.Stat(filepath.Join(dataDir, ManifestName)); err != nil {
		t.Errorf("tar -xzf did not extract the manifest: %v", err)
	}
	broken, _ := filepath.Glob(dataDir + ".broken-*")
	if len(broken) != 1 {
		t.Fatalf("moved-aside directories: %v", broken)
	}
	assertSameTree(t, treeState(t, original), treeState(t, broken[0]))

	// A backup of the manually restored directory leaves the old manifest
	// out and verifies.
	again, _ := writeBackup(t, dataDir)
	if _, err := Verify(again); err != nil {
		t.Errorf("Verify of a backup after a manual restore: %v", err)
	}
}

func TestRestoreMovesCurrentDirAside(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive, _ := writeBackup(t, dataDir)
	if err := os.WriteFile(filepath.Join(dataDir, "written-after-backup.txt"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, dataDir)
	now := time.Unix(1_767_000_000, 0)

	res, err := Restore(archive, dataDir, RestoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}

	wantAside := dataDir + ".broken-" + strconv.FormatInt(now.Unix(), 10)
	if res.MovedTo != wantAside {
		t.Errorf("MovedTo = %q, want %q", res.MovedTo, wantAside)
	}
	assertSameTree(t, before, treeState(t, wantAside))
	if _, err := os.Stat(filepath.Join(dataDir, "written-after-backup.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the restored directory has the file written after the backup: %v", err)
	}

	// A second restore in the same second keeps both old directories.
	res, err = Restore(archive, dataDir, RestoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if res.MovedTo != wantAside+"-2" {
		t.Errorf("second MovedTo = %q, want %q", res.MovedTo, wantAside+"-2")
	}
	assertSameTree(t, before, treeState(t, wantAside))
}

func TestRestoreRefusedWhileLocked(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	archive, _ := writeBackup(t, dataDir)
	lock, err := store.AcquireLock(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if err := lock.SetURL("http://127.0.0.1:4321"); err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(dataDir)
	before := listDir(t, parent)
	tree := treeState(t, dataDir, store.LockFile)

	_, err = Restore(archive, dataDir, RestoreOptions{})

	var running *DaemonRunningError
	if !errors.As(err, &running) {
		t.Fatalf("got %v, want a *DaemonRunningError", err)
	}
	for _, want := range []string{fmt.Sprintf("pid %d", os.Getpid()), "http://127.0.0.1:4321", "stop it first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if after := listDir(t, parent); !slices.Equal(before, after) {
		t.Errorf("parent directory changed from %v to %v", before, after)
	}
	assertSameTree(t, tree, treeState(t, dataDir, store.LockFile))
}

func TestRestoreRejectsUnsafeArchives(t *testing.T) {
	meta := craftedMember{hdr: tar.Header{Name: "data/meta.json", Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(`{"version":"0.20.0","schema":4}`)}
	top := craftedMember{hdr: tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o700}}
	reg := func(name string, data string) craftedMember {
		return craftedMember{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(data)}
	}
	tests := []struct {
		name    string
		limits  Limits
		members []craftedMember
		want    []string
	}{
		{
			name:    "dot-dot escape",
			members: []craftedMember{top, meta, reg("data/../escape", "x")},
			want:    []string{`"data/../escape"`, `".." path component`},
		},
		{
			name:    "leading dot-dot",
			members: []craftedMember{reg("../escape", "x")},
			want:    []string{`"../escape"`, `".."`},
		},
		{
			name:    "absolute path",
			members: []craftedMember{top, meta, reg("/tmp/x", "x")},
			want:    []string{`"/tmp/x"`, "absolute path"},
		},
		{
			name:    "member outside the top directory",
			members: []craftedMember{top, meta, reg("other/file", "x")},
			want:    []string{`"other/file"`, "outside data/"},
		},
		{
			name: "symbolic link pointing outside",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/boxes", Typeflag: tar.TypeSymlink, Linkname: "/etc", Mode: 0o777}},
				reg("data/boxes/passwd", "x")},
			want: []string{`"data/boxes"`, "symbolic link", `"/etc"`},
		},
		{
			name: "hard link",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/policy.json", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}},
			want: []string{`"data/policy.json"`, "hard link", `"/etc/passwd"`},
		},
		{
			name: "device node",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/disk", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0o600}}},
			want: []string{`"data/disk"`, "device node"},
		},
		{
			name: "character device",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}},
			want: []string{`"data/null"`, "device node"},
		},
		{
			name: "fifo",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/pipe", Typeflag: tar.TypeFifo, Mode: 0o600}}},
			want: []string{`"data/pipe"`, "named pipe"},
		},
		{
			name:    "member over the configured limit",
			limits:  Limits{MaxMemberBytes: 1024},
			members: []craftedMember{top, meta, reg("data/big.bin", strings.Repeat("x", 2048))},
			want:    []string{`"data/big.bin"`, "2048 bytes", "limit of 1024"},
		},
		{
			name: "member over the default limit",
			members: []craftedMember{top, meta,
				{hdr: tar.Header{Name: "data/huge.bin", Typeflag: tar.TypeReg, Mode: 0o600, Size: 2 << 30}, truncate: true}},
			want: []string{`"data/huge.bin"`, "over the limit of 1073741824 bytes"},
		},
		{
			name:    "files over the total limit",
			limits:  Limits{MaxTotalBytes: 100},
			members: []craftedMember{top, meta, reg("data/a.bin", strings.Repeat("a", 60)), reg("data/b.bin", strings.Repeat("b", 60))},
			want:    []string{`"data/b.bin"`, "more than 100 bytes"},
		},
		{
			name:    "duplicate member",
			members: []craftedMember{top, meta, reg("data/policy.json", "{}"), reg("data/policy.json", "{}")},
			want:    []string{`"data/policy.json"`, "twice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := craftArchive(t, tt.members...)
			parent := t.TempDir()
			outside := t.TempDir()
			target := filepath.Join(parent, "registry-data")
			before := listDir(t, parent)

			_, err := Restore(archive, target, RestoreOptions{Limits: tt.limits})

			if err == nil {
				t.Fatal("Restore accepted the archive")
			}
			t.Logf("error: %v", err)
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %s", err, want)
				}
			}
			if after := listDir(t, parent); !slices.Equal(before, after) {
				t.Errorf("parent directory changed from %v to %v", before, after)
			}
			if got := listDir(t, outside); len(got) != 0 {
				t.Errorf("files appeared in an unrelated directory: %v", got)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(parent), "escape")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("escape was written beside the target's parent: %v", err)
			}

			// Verify reports the same member without stopping.
			report, verifyErr := VerifyFile(archive, VerifyOptions{Limits: tt.limits})
			if verifyErr == nil || !strings.Contains(strings.Join(report.Problems, "\n"), tt.want[0]) {
				t.Errorf("Verify: %v, problems %q", verifyErr, report.Problems)
			}
		})
	}
}

func TestRestoreRejectsArchiveFailingVerification(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive, _ := writeBackup(t, dataDir)
	edited := rewriteArchive(t, archive, func(hdr *tar.Header, data []byte) ([]byte, bool) {
		if hdr.Name == "registry-data/"+store.CapsulesFile {
			data = append([]byte("x"), data...)
		}
		return data, true
	})
	before := treeState(t, dataDir)

	_, err := Restore(edited, dataDir, RestoreOptions{})

	if err == nil {
		t.Fatal("Restore accepted an archive whose capsules.json changed")
	}
	for _, want := range []string{"registry-data/capsules.json", "was not changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	assertSameTree(t, before, treeState(t, dataDir))
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dataDir), ".registry-data.restore-*")); len(leftovers) != 0 {
		t.Errorf("staging directories left behind: %v", leftovers)
	}
}

func TestRestoreSkipsLockFileOfManualArchive(t *testing.T) {
	members := []craftedMember{
		{hdr: tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o700}},
		{hdr: tar.Header{Name: "data/meta.json", Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(`{"version":"0.20.0","schema":4}`)},
		{hdr: tar.Header{Name: "data/capsold.lock", Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(`{"pid":1}`)},
	}
	archive := craftArchive(t, members...)
	target := filepath.Join(t.TempDir(), "registry-data")

	if _, err := Restore(archive, target, RestoreOptions{}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, store.LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("capsold.lock was restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, store.MetaFile)); err != nil {
		t.Errorf("meta.json was not restored: %v", err)
	}
}

func TestRestoreFollowsSymlinkedDataDir(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	want := treeState(t, dataDir)
	archive, _ := writeBackup(t, dataDir)
	if err := os.WriteFile(filepath.Join(dataDir, "later.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Symlink(dataDir, link); err != nil {
		t.Fatal(err)
	}

	res, err := Restore(archive, link, RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}

	if target, err := os.Readlink(link); err != nil || target != dataDir {
		t.Errorf("the link now points to %q (%v), want %s", target, err, dataDir)
	}
	if res.DataDir != dataDir || !strings.HasPrefix(res.MovedTo, dataDir+".broken-") {
		t.Errorf("restored into %s, moved aside to %s; want the link's target %s", res.DataDir, res.MovedTo, dataDir)
	}
	assertSameTree(t, want, treeState(t, dataDir))
}
