// Package doctor checks a data directory offline, without a running daemon
// and without changing anything, and names the fix for every problem.
package doctor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

// Severities of a finding.
const (
	OK      = "ok"
	Warning = "warning"
	Problem = "problem"
)

// Finding is the result of one check.
type Finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	Fix      string `json:"fix,omitempty"`
}

// Options names the data directory and keys to check.
type Options struct {
	DataDir     string
	Home        string
	AdminKeyEnv bool // CAPSOL_ADMIN_KEY is set, so admin.key is not needed

	// SecretKey and SecretKeyFile are CAPSOL_SECRET_KEY and
	// CAPSOL_SECRET_KEY_FILE, to check that the key decrypts the settings.
	SecretKey     string
	SecretKeyFile string
}

// Report is every finding of one run.
type Report struct {
	DataDir  string    `json:"data_dir"`
	Findings []Finding `json:"findings"`
}

// Problems counts findings of severity Problem.
func (r Report) Problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Problem {
			n++
		}
	}
	return n
}

// Run performs every check.
func Run(opts Options) Report {
	r := &Report{DataDir: opts.DataDir}
	info, err := os.Stat(opts.DataDir)
	if err != nil {
		r.add("data_dir", Problem, opts.DataDir, fmt.Sprintf("cannot open the data directory: %v", err),
			fmt.Sprintf("Point --data-dir or CAPSOL_DATA_DIR at the registry, or create it: mkdir -p %s && chmod 700 %s", opts.DataDir, opts.DataDir))
		return *r
	}
	if !info.IsDir() {
		r.add("data_dir", Problem, opts.DataDir, "is not a directory", "Point --data-dir or CAPSOL_DATA_DIR at the registry directory.")
		return *r
	}
	r.checkMode("data_dir", opts.DataDir, info, fsutil.DirMode)

	r.checkMeta(opts.DataDir)
	r.checkIndexFiles(opts.DataDir)
	r.checkLock(opts.DataDir)
	r.checkTemps(opts.DataDir)
	r.checkBoxes(opts.DataDir)
	r.checkAdminKey(opts)
	r.checkSecretKey(opts)
	return *r
}

func (r *Report) add(check, severity, subject, message, fix string) {
	r.Findings = append(r.Findings, Finding{Check: check, Severity: severity, Subject: subject, Message: message, Fix: fix})
}

func (r *Report) checkMode(check, path string, info os.FileInfo, want os.FileMode) {
	got := info.Mode().Perm()
	if got&0o077 != 0 {
		r.add(check, Warning, path, fmt.Sprintf("mode is %04o, other users can read it", got),
			fmt.Sprintf("chmod %o %s", want, path))
		return
	}
	r.add(check, OK, path, fmt.Sprintf("mode %04o", got), "")
}

func (r *Report) checkMeta(dir string) {
	path := filepath.Join(dir, store.MetaFile)
	meta, err := store.ReadMeta(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.add("schema", Warning, path, "missing: this is not an initialized registry yet",
			"Start the daemon once on it (capsol serve --data-dir "+dir+") to initialize it, or point --data-dir at the right directory.")
	case err != nil:
		r.add("schema", Problem, path, err.Error(), restoreFix(dir, store.MetaFile))
	case meta.Schema > version.Schema:
		r.add("schema", Problem, path, fmt.Sprintf("schema %d (capsol %s) is newer than this build's schema %d", meta.Schema, meta.Version, version.Schema),
			fmt.Sprintf("Use capsol %s or newer with this data directory.", meta.Version))
	case meta.Schema < version.Schema:
		r.add("schema", Warning, path, fmt.Sprintf("schema %d (capsol %s) will be migrated to %d at the next start", meta.Schema, meta.Version, version.Schema),
			"Take a backup first (capsol backup), then start the daemon to migrate.")
	default:
		r.add("schema", OK, path, fmt.Sprintf("schema %d (capsol %s)", meta.Schema, meta.Version), "")
	}
}

func (r *Report) checkIndexFiles(dir string) {
	for _, name := range store.IndexFiles {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			r.add("index", Warning, path, "missing; the daemon creates it empty at the next start", "Restore it from a backup if it held records: "+restoreFix(dir, name))
			continue
		}
		if err != nil {
			r.add("index", Problem, path, err.Error(), fmt.Sprintf("chmod 600 %s", path))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			r.add("index", Problem, path, err.Error(), fmt.Sprintf("chmod 600 %s", path))
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			msg := "top-level value is null, expected a JSON object"
			if err != nil {
				msg = "does not parse: " + err.Error()
			}
			r.add("index", Problem, path, msg, restoreFix(dir, name))
			continue
		}
		r.checkMode("index", path, info, fsutil.FileMode)
	}
}

func (r *Report) checkLock(dir string) {
	info, held, err := store.ReadLock(dir)
	path := filepath.Join(dir, store.LockFile)
	switch {
	case err != nil:
		r.add("lock", Warning, path, err.Error(), "")
	case held:
		r.add("lock", OK, path, fmt.Sprintf("held by capsold pid %d at %s (version %s)", info.PID, info.URL, info.Version), "")
	default:
		r.add("lock", OK, path, "not held: no daemon runs on this directory", "")
	}
}

func (r *Report) checkTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		for _, name := range append([]string{store.MetaFile}, store.IndexFiles...) {
			if fsutil.IsTempName(e.Name(), name) {
				path := filepath.Join(dir, e.Name())
				r.add("temp_files", Warning, path, "temporary file of an interrupted write; the daemon removes it at the next start",
					"rm "+path)
				break
			}
		}
	}
}

func (r *Report) checkBoxes(dir string) {
	boxes := filepath.Join(dir, store.BoxesDir)
	entries, err := os.ReadDir(boxes)
	if err != nil {
		return
	}
	// Without a readable capsules.json every box would look orphaned, and
	// the index check already names that file, so there is nothing to add.
	data, err := os.ReadFile(filepath.Join(dir, store.CapsulesFile))
	if err != nil {
		return
	}
	var doc store.CapsulesDoc
	if json.Unmarshal(data, &doc) != nil {
		return
	}
	known := map[string]bool{}
	for _, c := range doc.Capsules {
		known[c.ID] = true
	}

	var orphans []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !ids.Valid(ids.Capsule, e.Name()) || !known[e.Name()] {
			orphans = append(orphans, e.Name())
		}
	}
	sort.Strings(orphans)
	for _, name := range orphans {
		path := filepath.Join(boxes, name)
		r.add("boxes", Warning, path, "box without a capsule record in capsules.json",
			fmt.Sprintf("Restore capsules.json from a backup if the capsule should exist, or move the box aside: mkdir -p %s && mv %s %s",
				filepath.Join(boxes, ".deleted"), path, filepath.Join(boxes, ".deleted", name)))
	}
	if len(orphans) == 0 {
		r.add("boxes", OK, boxes, fmt.Sprintf("%d boxes, none orphaned", len(entries)), "")
	}
}

func (r *Report) checkAdminKey(opts Options) {
	if opts.AdminKeyEnv {
		r.add("admin_key", OK, "CAPSOL_ADMIN_KEY", "set in the environment", "")
		return
	}
	path := filepath.Join(opts.Home, keys.AdminKeyFile)
	info, err := os.Stat(path)
	if err != nil {
		r.add("admin_key", Warning, path, "missing; the daemon generates one at the next start",
			"Start the daemon once, or set CAPSOL_ADMIN_KEY=$(openssl rand -hex 24).")
		return
	}
	r.checkMode("admin_key", path, info, fsutil.FileMode)
}

func restoreFix(dir, name string) string {
	return fmt.Sprintf("Restore this one file from your latest backup: tar -xzf capsol-backup-YYYYmmdd-HHMMSS.tgz -C %s %s/%s",
		filepath.Dir(dir), filepath.Base(dir), name)
}

// checkSecretKey reports whether the configured secret key decrypts the
// encrypted values of settings.json, which fails after the key changed.
func (r *Report) checkSecretKey(opts Options) {
	path := filepath.Join(opts.DataDir, store.SettingsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var settings store.Settings
	if json.Unmarshal(data, &settings) != nil {
		return
	}
	encrypted := map[string]string{}
	if v := settings.OIDC.ClientSecret; v != nil && strings.HasPrefix(*v, registry.EncryptedPrefix) {
		encrypted["oidc.client_secret"] = *v
	}
	if v := settings.SMTPURL; v != nil && strings.HasPrefix(*v, registry.EncryptedPrefix) {
		encrypted["smtp_url"] = *v
	}
	if len(encrypted) == 0 {
		r.add("secret_key", OK, path, "no encrypted settings to check", "")
		return
	}
	if opts.SecretKey == "" && opts.SecretKeyFile == "" {
		r.add("secret_key", Warning, path, "settings.json holds encrypted values, and neither CAPSOL_SECRET_KEY nor CAPSOL_SECRET_KEY_FILE is set here to check them",
			"Run doctor with the daemon's CAPSOL_SECRET_KEY_FILE (or CAPSOL_SECRET_KEY) set.")
		return
	}
	key, err := keys.LoadSecretKey(opts.SecretKey, opts.SecretKeyFile, false)
	if err != nil {
		r.add("secret_key", Problem, opts.SecretKeyFile, err.Error(), "Point CAPSOL_SECRET_KEY_FILE at the daemon's secret key file.")
		return
	}

	cipher, err := registry.NewSettingsCipher(key.Material)
	if err != nil {
		r.add("secret_key", Problem, key.Source, err.Error(), "")
		return
	}

	fields := make([]string, 0, len(encrypted))
	for field := range encrypted {
		fields = append(fields, field)
	}
	sort.Strings(fields)
	for _, field := range fields {
		if _, err := cipher.Decrypt(encrypted[field]); err != nil {
			r.add("secret_key", Problem, path, fmt.Sprintf("%s does not decrypt with the secret key from %s, so the key changed after it was stored", field, key.Source),
				"Use the previous secret key, or re-enter the value: capsol settings set, or dashboard → Settings.")
			continue
		}
		r.add("secret_key", OK, path, field+" decrypts with the secret key from "+key.Source, "")
	}
}
