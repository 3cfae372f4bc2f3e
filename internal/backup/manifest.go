// Package backup writes, verifies and restores backups of a data
// directory, and runs restore drills on them.
//
// A backup is a gzip-compressed tar archive of the data directory under its
// own base name, exactly what
//
//	tar -czf FILE -C "$(dirname "$CAPSOL_DATA_DIR")" "$(basename "$CAPSOL_DATA_DIR")"
//
// produces, so the manual runbook and this package restore each other's
// archives. Archives written here leave out capsold.lock and end with
// <base>/BACKUP-MANIFEST.json, which lists every file with its size and
// SHA-256.
//
// The package never writes into the data directory it backs up, and Restore
// never deletes a data directory: it moves the current one aside. Archive
// member names are checked before any file is created for them.
package backup

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ManifestName is the file name of the manifest inside the archive's top
// directory. capsol never writes it into a data directory, but tar -xzf of
// a capsol archive leaves it there: Write skips that copy, and Restore
// does not extract the manifest.
const ManifestName = "BACKUP-MANIFEST.json"

// lockFileName is the daemon's lock file, left out of backups and restores.
// It matches store.LockFile.
const lockFileName = "capsold.lock"

// Sources of an archive, recorded in the manifest.
const (
	SourceDataDir  = "data-dir"
	SourceSnapshot = "server-snapshot"
)

// Manifest is the content of BACKUP-MANIFEST.json.
type Manifest struct {
	// Version and Schema copy the data directory's meta.json: the layout
	// the archive holds.
	Version string `json:"version"`
	Schema  int    `json:"schema"`
	// CapsolVersion is the version of capsol that wrote the archive.
	CapsolVersion string    `json:"capsol_version"`
	Source        string    `json:"source"`
	CreatedAt     time.Time `json:"created_at"`
	// Files lists every regular file of the archive except the manifest,
	// in archive order. Paths are member names, relative to the archive
	// root, so they start with the data directory's base name.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of the manifest.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func encodeManifest(m *Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ManifestName, err)
	}
	return append(data, '\n'), nil
}

func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// memberName is an archive member name split into the top directory and the
// slash-separated path below it.
type memberName struct {
	base string
	rel  string // "" for the top directory itself
}

// parseMemberName checks an archive member name and splits it. It rejects
// names that could reach outside the directory they are extracted to:
// absolute names, ".." components, and empty or "." components, which no
// tar of a directory produces. A single leading "./" is accepted.
func parseMemberName(name string) (memberName, error) {
	switch {
	case name == "":
		return memberName{}, fmt.Errorf("member has an empty name")
	case strings.ContainsRune(name, 0):
		return memberName{}, fmt.Errorf("member %q has a NUL byte in its name", name)
	case strings.HasPrefix(name, "/"):
		return memberName{}, fmt.Errorf("member %q has an absolute path", name)
	}

	trimmed := strings.TrimPrefix(strings.TrimRight(name, "/"), "./")
	if trimmed == "" || trimmed == "." {
		return memberName{}, fmt.Errorf("member %q names the archive root, not a directory inside it", name)
	}
	parts := strings.Split(trimmed, "/")
	for _, part := range parts {
		switch part {
		case "..":
			return memberName{}, fmt.Errorf("member %q has a \"..\" path component", name)
		case "", ".":
			return memberName{}, fmt.Errorf("member %q has an empty or \".\" path component", name)
		}
	}
	return memberName{base: parts[0], rel: strings.Join(parts[1:], "/")}, nil
}
