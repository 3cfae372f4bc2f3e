package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/version"
)

// Migration moves the layout from Schema-1 to Schema. Apply only adds
// missing fields and files with defaults: it never rewrites or drops a value
// that is present, so running it twice changes nothing.
type Migration struct {
	Schema  int
	Version string
	Summary string
	Apply   func(docs Documents) error
}

// Documents holds every index file as generic JSON, keyed by file name. A
// file that does not exist yet is absent from the map.
type Documents map[string]map[string]any

// Migrations lists every layout change since the first file layout, in order.
var Migrations = []Migration{
	{Schema: 2, Version: "0.16.0", Summary: "credential expiry, OAuth refresh tokens, CSRF-bound sessions", Apply: migrateTo016},
	{Schema: 3, Version: "0.19.0", Summary: "capsule ownership by operators, operator invites", Apply: migrateTo019},
	{Schema: 4, Version: "0.20.0", Summary: "connection kinds, grant idle policy, OAuth settings", Apply: migrateTo020},
}

// MigrationError wraps a failure while migrating. The data directory is left
// as it was when the failure happens before writing; see Migrate.
type MigrationError struct {
	Schema int
	Err    error
}

func (e *MigrationError) Error() string {
	return fmt.Sprintf("migration to schema %d failed: %v", e.Schema, e.Err)
}

func (e *MigrationError) Unwrap() error { return e.Err }

// Migrate runs every migration above the schema recorded in meta.json and
// returns the schemas it applied. All migrations run in memory first; only
// when every one succeeded are the changed files written, and meta.json
// last. A crash during those writes leaves the old schema in meta.json, and
// because migrations are idempotent the next boot finishes the job.
func Migrate(dir string) ([]int, error) {
	meta, err := ReadMeta(dir)
	if err != nil {
		return nil, err
	}
	if meta.Schema > version.Schema {
		return nil, &SchemaTooNewError{Found: meta, Current: version.Schema}
	}
	if meta.Schema == version.Schema {
		return nil, nil
	}

	docs, originals, err := readDocuments(dir)
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range Migrations {
		if m.Schema <= meta.Schema {
			continue
		}
		if err := m.Apply(docs); err != nil {
			return nil, &MigrationError{Schema: m.Schema, Err: err}
		}
		applied = append(applied, m.Schema)
	}

	for _, name := range IndexFiles {
		doc, ok := docs[name]
		if !ok {
			continue
		}
		data, err := encodeDocument(doc)
		if err != nil {
			return nil, &MigrationError{Schema: version.Schema, Err: fmt.Errorf("encode %s: %w", name, err)}
		}
		if bytes.Equal(data, originals[name]) {
			continue
		}
		if err := fsutil.WriteFile(filepath.Join(dir, name), data); err != nil {
			return nil, &MigrationError{Schema: version.Schema, Err: err}
		}
	}
	if err := WriteMeta(dir, Meta{Version: version.Version, Schema: version.Schema}); err != nil {
		return nil, &MigrationError{Schema: version.Schema, Err: err}
	}
	return applied, nil
}

func readDocuments(dir string) (Documents, map[string][]byte, error) {
	docs := Documents{}
	originals := map[string][]byte{}
	for _, name := range IndexFiles {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil || doc == nil {
			if err == nil {
				err = errors.New("top-level value is null, expected a JSON object")
			}
			return nil, nil, &CorruptError{File: name, Path: path, Err: err}
		}
		docs[name] = doc
		originals[name] = data
	}
	return docs, originals, nil
}

// records returns the objects of the array under key in a document, creating
// the document and the array when missing.
func (d Documents) records(file, key string) ([]map[string]any, error) {
	doc, ok := d[file]
	if !ok {
		doc = map[string]any{}
		d[file] = doc
	}
	raw, ok := doc[key]
	if !ok || raw == nil {
		doc[key] = []any{}
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: %q is %T, expected an array", file, key, raw)
	}
	out := make([]map[string]any, 0, len(list))
	for i, item := range list {
		rec, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s[%d] is %T, expected an object", file, key, i, item)
		}
		out = append(out, rec)
	}
	return out, nil
}

// object returns the document of a file, creating an empty one when missing.
func (d Documents) object(file string) map[string]any {
	doc, ok := d[file]
	if !ok {
		doc = map[string]any{}
		d[file] = doc
	}
	return doc
}

// addDefaults sets each absent key of every record to its default.
func (d Documents) addDefaults(file, key string, defaults map[string]any) error {
	recs, err := d.records(file, key)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		setDefaults(rec, defaults)
	}
	return nil
}

func setDefaults(obj map[string]any, defaults map[string]any) {
	for k, v := range defaults {
		if _, ok := obj[k]; !ok {
			obj[k] = v
		}
	}
}

// migrateTo016 adds credential expiry. Records created before 0.16 get
// expires_at null, which means they never expire, so no agent is locked out.
func migrateTo016(d Documents) error {
	if err := d.addDefaults(CredentialsFile, "credentials", map[string]any{
		"expires_at": nil, "revoked_at": nil, "rotated_at": nil, "family_id": nil, "grant_id": nil,
	}); err != nil {
		return err
	}
	if err := d.addDefaults(SharesFile, "shares", map[string]any{"expires_at": nil, "revoked_at": nil}); err != nil {
		return err
	}
	if err := d.addDefaults(EnrollmentsFile, "enrollments", map[string]any{"expires_at": nil, "revoked_at": nil}); err != nil {
		return err
	}
	// Sessions from before 0.16 have no CSRF secret. They keep their record
	// but an empty csrf_hash never matches, so operators sign in once more.
	return d.addDefaults(SessionsFile, "sessions", map[string]any{"csrf_hash": ""})
}

// migrateTo019 adds capsule ownership. Existing capsules stay unowned
// (owner_id null) until an admin claims them.
func migrateTo019(d Documents) error {
	if err := d.addDefaults(CapsulesFile, "capsules", map[string]any{"owner_id": nil}); err != nil {
		return err
	}
	if err := d.addDefaults(PrincipalsFile, "principals", map[string]any{
		"email": nil, "role": nil, "status": nil, "last_login_at": nil,
	}); err != nil {
		return err
	}
	_, err := d.records(InvitesFile, "invites")
	return err
}

// migrateTo020 records the kind of every connection (all existing ones are
// shares), adds grant idle tracking and the newer policy and OAuth settings.
func migrateTo020(d Documents) error {
	if err := d.addDefaults(SharesFile, "shares", map[string]any{"kind": KindShare, "grant_id": nil}); err != nil {
		return err
	}
	if err := d.addDefaults(GrantsFile, "grants", map[string]any{
		"approved_at": nil, "last_used_at": nil, "revoked_by": nil, "revoked_at": nil,
		"client_id": "", "request_key": "", "redirect_uri": "", "scope": "", "code_issued_at": nil,
	}); err != nil {
		return err
	}
	if err := d.addDefaults(PrincipalsFile, "principals", map[string]any{"token_endpoint_auth_method": nil}); err != nil {
		return err
	}
	defaults := DefaultPolicy()
	setDefaults(d.object(PolicyFile), map[string]any{
		"max_idle_days":                  json.Number("0"),
		"max_pending_grants_per_capsule": json.Number(fmt.Sprint(defaults.MaxPendingGrantsPerCapsule)),
	})
	settings := d.object(SettingsFile)
	if _, ok := settings["oauth"]; !ok {
		settings["oauth"] = map[string]any{"allow_private_client_metadata": false}
	}
	return nil
}
