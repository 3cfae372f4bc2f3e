package backup

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

func TestWriteArchiveLayout(t *testing.T) {
	dataDir := newRegistry(t, 3, 200<<10)
	leaveLockFile(t, dataDir)

	archive, res := writeBackup(t, dataDir)

	members := archiveMembers(t, archive)
	if members[0] != "registry-data/" {
		t.Errorf("first member is %q, want the top directory registry-data/", members[0])
	}
	if last := members[len(members)-1]; last != "registry-data/"+ManifestName {
		t.Errorf("last member is %q, want the manifest", last)
	}
	if slices.Contains(members, "registry-data/"+store.LockFile) {
		t.Errorf("the archive contains %s", store.LockFile)
	}
	for _, name := range members {
		if !strings.HasPrefix(name, "registry-data/") {
			t.Errorf("member %q is outside registry-data/", name)
		}
	}

	m := res.Manifest
	if m.Version != version.Version || m.Schema != version.Schema {
		t.Errorf("manifest version %s schema %d, want %s schema %d", m.Version, m.Schema, version.Version, version.Schema)
	}
	if m.Source != SourceDataDir || m.CreatedAt.IsZero() {
		t.Errorf("manifest source %q created_at %v", m.Source, m.CreatedAt)
	}
	if len(m.Files) != res.Files || res.Files == 0 {
		t.Errorf("manifest lists %d files, result counts %d", len(m.Files), res.Files)
	}
	for _, f := range m.Files {
		if strings.HasSuffix(f.Path, store.LockFile) || strings.HasSuffix(f.Path, ManifestName) {
			t.Errorf("manifest lists %s", f.Path)
		}
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

func TestWriteKeepsModes(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive, _ := writeBackup(t, dataDir)

	eachMember(t, archive, func(hdr *tar.Header, _ []byte) {
		want := int64(0o600)
		if hdr.Typeflag == tar.TypeDir {
			want = 0o700
		}
		if hdr.Mode != want {
			t.Errorf("%s has mode %o, want %o", hdr.Name, hdr.Mode, want)
		}
	})
}

func TestWriteSkipsSocket(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	// Unix socket paths are limited to about 100 bytes, so bind from
	// inside the directory.
	wd, _ := os.Getwd()
	if err := os.Chdir(dataDir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", "daemon.sock")
	_ = os.Chdir(wd)
	if err != nil {
		t.Fatalf("listen on a unix socket: %v", err)
	}
	defer ln.Close()

	archive, res := writeBackup(t, dataDir)

	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "registry-data/daemon.sock") || !strings.Contains(res.Warnings[0], "socket") {
		t.Errorf("warnings %q, want one naming registry-data/daemon.sock as a socket", res.Warnings)
	}
	if slices.Contains(archiveMembers(t, archive), "registry-data/daemon.sock") {
		t.Error("the socket is in the archive")
	}
	if _, err := Verify(archive); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestWriteRejectsDirectoryWithoutMeta(t *testing.T) {
	dir := t.TempDir()
	_, err := Write(&bytes.Buffer{}, dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a capsol data directory") {
		t.Fatalf("got %v, want a not-a-data-directory error", err)
	}
}

func TestWriteSkipsLeftoverManifest(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	if err := os.WriteFile(filepath.Join(dataDir, ManifestName), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	archive, _ := writeBackup(t, dataDir)

	count := 0
	for _, name := range archiveMembers(t, archive) {
		if name == "registry-data/"+ManifestName {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the archive has %d manifests, want 1", count)
	}
	if _, err := Verify(archive); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestVerifyPassesCapsolArchive(t *testing.T) {
	dataDir := newRegistry(t, 3, 200<<10)
	archive, res := writeBackup(t, dataDir)

	report, err := Verify(archive)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !report.Manifest || report.Base != "registry-data" {
		t.Errorf("manifest %v base %q", report.Manifest, report.Base)
	}
	if report.Files != res.Files || report.Bytes != res.Bytes {
		t.Errorf("report has %d files, %d bytes; Write wrote %d, %d", report.Files, report.Bytes, res.Files, res.Bytes)
	}
	if report.JSONFiles == 0 || report.CreatedAt == nil || report.Schema != version.Schema {
		t.Errorf("report %+v", report)
	}
}

func TestVerifyDetectsChangedByte(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive, _ := writeBackup(t, dataDir)
	changed := ""
	edited := rewriteArchive(t, archive, func(hdr *tar.Header, data []byte) ([]byte, bool) {
		if changed == "" && hdr.Typeflag == tar.TypeReg && strings.Contains(hdr.Name, "/blobs/sha256/") && !strings.HasSuffix(hdr.Name, ".json") {
			changed = hdr.Name
			data = bytes.Clone(data)
			data[len(data)/2] ^= 0x01
		}
		return data, true
	})

	report, err := Verify(edited)

	var invalid *InvalidArchiveError
	if !errors.As(err, &invalid) {
		t.Fatalf("got %v, want an *InvalidArchiveError", err)
	}
	if report.ProblemCount != 1 || !strings.Contains(report.Problems[0], changed) || !strings.Contains(report.Problems[0], "SHA-256") {
		t.Errorf("problems %q, want one SHA-256 mismatch of %s", report.Problems, changed)
	}
}

func TestVerifyDetectsMissingFile(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive, _ := writeBackup(t, dataDir)
	dropped := "registry-data/" + store.SharesFile
	edited := rewriteArchive(t, archive, func(hdr *tar.Header, data []byte) ([]byte, bool) {
		return data, hdr.Name != dropped
	})

	report, err := Verify(edited)

	if err == nil {
		t.Fatal("Verify passed an archive with a missing file")
	}
	if report.ProblemCount != 1 || !strings.Contains(report.Problems[0], dropped+" is listed in the manifest but missing") {
		t.Errorf("problems %q, want one naming %s as missing", report.Problems, dropped)
	}
}

func TestVerifyDetectsUnlistedFile(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	archive, _ := writeBackup(t, dataDir)
	edited := rewriteArchive(t, archive, func(hdr *tar.Header, data []byte) ([]byte, bool) {
		if hdr.Name == "registry-data/"+store.PolicyFile {
			hdr.Name = "registry-data/extra.json"
		}
		return data, true
	})

	report, err := Verify(edited)

	if err == nil {
		t.Fatal("Verify passed an archive with an unlisted file")
	}
	joined := strings.Join(report.Problems, "\n")
	if !strings.Contains(joined, "registry-data/extra.json is in the archive but not listed") {
		t.Errorf("problems %q, want registry-data/extra.json as unlisted", report.Problems)
	}
}

func TestVerifyDetectsInvalidJSON(t *testing.T) {
	members := []craftedMember{
		{hdr: tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o700}},
		{hdr: tar.Header{Name: "data/meta.json", Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(`{"version":"0.20.0","schema":4}`)},
		{hdr: tar.Header{Name: "data/capsules.json", Typeflag: tar.TypeReg, Mode: 0o600}, data: []byte(`{"capsules": [`)},
	}
	archive := craftArchive(t, members...)

	report, err := Verify(archive)

	if err == nil {
		t.Fatal("Verify passed a truncated capsules.json")
	}
	if report.ProblemCount != 1 || !strings.Contains(report.Problems[0], "data/capsules.json is not valid JSON") {
		t.Errorf("problems %q", report.Problems)
	}
}

func TestVerifyManualArchiveNote(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	archive := filepath.Join(t.TempDir(), "manual.tgz")
	runShell(t, `tar -czf "$ARCHIVE" -C "$(dirname "$CAPSOL_DATA_DIR")" "$(basename "$CAPSOL_DATA_DIR")"`,
		"ARCHIVE="+archive, "CAPSOL_DATA_DIR="+dataDir)

	report, err := Verify(archive)

	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if report.Manifest || !slices.Contains(report.Notes, NoManifestNote) {
		t.Errorf("manifest %v notes %q, want the no-manifest note", report.Manifest, report.Notes)
	}
	if report.Schema != version.Schema || report.Files == 0 {
		t.Errorf("report %+v", report)
	}
}

func TestVerifyRejectsNonGzip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not.tgz")
	if err := os.WriteFile(path, []byte("plain text"), 0o600); err != nil {
		t.Fatal(err)
	}
	report, err := Verify(path)
	if err == nil || report.ProblemCount != 1 || !strings.Contains(report.Problems[0], "not a gzip-compressed archive") {
		t.Errorf("got %v, problems %q", err, report.Problems)
	}
}

func TestVerifyReportsTruncatedArchive(t *testing.T) {
	dataDir := newRegistry(t, 2, 200<<10)
	archive, _ := writeBackup(t, dataDir)
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.tgz")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}

	report, err := Verify(truncated)

	if err == nil {
		t.Fatal("Verify passed a truncated archive")
	}
	if !strings.Contains(strings.Join(report.Problems, "\n"), "truncated or corrupt") {
		t.Errorf("problems %q", report.Problems)
	}
}

func TestSnapshotTakesIndexUnderBarrier(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dataDir, store.CapsulesFile))
	if err != nil {
		t.Fatal(err)
	}

	// The first progress call comes after the barrier was released, so an
	// index write there must not reach the archive.
	var out bytes.Buffer
	updated := false
	res, err := Snapshot(&out, st, Options{Progress: func(_, _ int64) {
		if updated {
			return
		}
		updated = true
		if err := st.Capsules.Update(func(doc *store.CapsulesDoc) error {
			doc.Capsules[0].Name = "renamed during the backup"
			return nil
		}); err != nil {
			t.Errorf("update during the snapshot: %v", err)
		}
	}})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}

	if res.Manifest.Source != SourceSnapshot || res.Barrier <= 0 {
		t.Errorf("source %q barrier %v", res.Manifest.Source, res.Barrier)
	}
	path := filepath.Join(t.TempDir(), "snapshot.tgz")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	eachMember(t, path, func(hdr *tar.Header, data []byte) {
		if hdr.Name == "registry-data/"+store.CapsulesFile && !bytes.Equal(data, before) {
			t.Errorf("capsules.json in the snapshot is not the version of the barrier:\n%s", data)
		}
	})
}

func TestSnapshotCutsPartialLogLine(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	st, err := store.Open(dataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := filepath.Glob(filepath.Join(dataDir, "boxes", "*", ".capsol", "logs", "*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("found logs %v, %v", logs, err)
	}
	whole, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"ts":"2026-01-01T00:00:00.000Z","conn`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var out bytes.Buffer
	if _, err := Snapshot(&out, st, Options{}); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}

	path := filepath.Join(t.TempDir(), "snapshot.tgz")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Dir(dataDir), logs[0])
	found := false
	eachMember(t, path, func(hdr *tar.Header, data []byte) {
		if hdr.Name == filepath.ToSlash(rel) {
			found = true
			if !bytes.Equal(data, whole) {
				t.Errorf("the log in the snapshot is %d bytes, want the %d bytes of complete lines", len(data), len(whole))
			}
		}
	})
	if !found {
		t.Errorf("%s is not in the snapshot", rel)
	}
}

func TestManifestIsStableJSON(t *testing.T) {
	dataDir := newRegistry(t, 1, 50<<10)
	archive, _ := writeBackup(t, dataDir)
	eachMember(t, archive, func(hdr *tar.Header, data []byte) {
		if hdr.Name != "registry-data/"+ManifestName {
			return
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"version", "schema", "capsol_version", "source", "created_at", "files"} {
			if _, ok := fields[key]; !ok {
				t.Errorf("manifest has no %q", key)
			}
		}
	})
}

func TestSnapshotLeavesOutBoxesCreatedLater(t *testing.T) {
	dataDir := newRegistry(t, 2, 100<<10)
	state, err := freeze(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	// A capsule created after the barrier: its box, and a new top-level
	// file.
	later := filepath.Join(dataDir, "boxes", "cap_01jc0000000000000000000000", ".capsol", "entries")
	if err := os.MkdirAll(later, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(later, "x.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "later.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	items, err := scan(state.dataDir, state.include)
	if err != nil {
		t.Fatal(err)
	}
	items = state.apply(items)

	boxes := 0
	for _, it := range items {
		if strings.Contains(it.rel, "cap_01jc0000000000000000000000") || it.rel == "later.json" {
			t.Errorf("%s was created after the barrier but is listed", it.rel)
		}
		if strings.HasPrefix(it.rel, "boxes/") && strings.Count(it.rel, "/") == 1 {
			boxes++
		}
		if it.rel == store.CapsulesFile && !it.inMemory {
			t.Errorf("%s is not taken from the barrier", it.rel)
		}
	}
	if boxes != 2 {
		t.Errorf("%d boxes listed, want the 2 of the barrier", boxes)
	}
}
