// Package store owns the data directory: the independent *.json index
// files, the meta.json schema record, the daemon lock and the migrations.
// It never builds a path from unvalidated input and never repairs a corrupt
// file by overwriting it.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/version"
)

// File names inside the data directory.
const (
	MetaFile        = "meta.json"
	CapsulesFile    = "capsules.json"
	SharesFile      = "shares.json"
	PrincipalsFile  = "principals.json"
	CredentialsFile = "credentials.json"
	GrantsFile      = "grants.json"
	EnrollmentsFile = "enrollments.json"
	InvitesFile     = "invites.json"
	SessionsFile    = "sessions.json"
	SettingsFile    = "settings.json"
	PolicyFile      = "policy.json"
	LockFile        = "capsold.lock"
	BoxesDir        = "boxes"
	AuditDir        = "audit"
)

// IndexFiles lists every index file in the order the daemon loads them.
var IndexFiles = []string{
	CapsulesFile, SharesFile, PrincipalsFile, CredentialsFile, GrantsFile,
	EnrollmentsFile, InvitesFile, SessionsFile, SettingsFile, PolicyFile,
}

// Store is an open data directory.
type Store struct {
	Dir string

	Capsules    *Index[CapsulesDoc]
	Shares      *Index[SharesDoc]
	Principals  *Index[PrincipalsDoc]
	Credentials *Index[CredentialsDoc]
	Grants      *Index[GrantsDoc]
	Enrollments *Index[EnrollmentsDoc]
	Invites     *Index[InvitesDoc]
	Sessions    *Index[SessionsDoc]
	Settings    *Index[Settings]
	Policy      *Index[Policy]

	// barrier lets a backup stop all writers for a consistent snapshot:
	// writers hold it shared, Freeze holds it exclusively.
	barrier  sync.RWMutex
	observer func(file string, d time.Duration)
}

// Options tune an open store.
type Options struct {
	// ObserveWrite receives the duration of every durable index write.
	ObserveWrite func(file string, d time.Duration)
}

// Open loads and validates every index file of a migrated data directory,
// creating missing ones with their empty documents.
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{Dir: dir, observer: opts.ObserveWrite}
	s.Capsules = newIndex(s, CapsulesFile, validateCapsules)
	s.Shares = newIndex(s, SharesFile, validateShares)
	s.Principals = newIndex[PrincipalsDoc](s, PrincipalsFile, nil)
	s.Credentials = newIndex[CredentialsDoc](s, CredentialsFile, nil)
	s.Grants = newIndex[GrantsDoc](s, GrantsFile, nil)
	s.Enrollments = newIndex[EnrollmentsDoc](s, EnrollmentsFile, nil)
	s.Invites = newIndex[InvitesDoc](s, InvitesFile, nil)
	s.Sessions = newIndex[SessionsDoc](s, SessionsFile, nil)
	s.Settings = newIndex[Settings](s, SettingsFile, nil)
	s.Policy = newIndex(s, PolicyFile, validatePolicy)

	loads := []func() error{
		func() error {
			return s.Capsules.load(func() *CapsulesDoc { return &CapsulesDoc{Capsules: []Capsule{}} })
		},
		func() error { return s.Shares.load(func() *SharesDoc { return &SharesDoc{Shares: []Share{}} }) },
		func() error {
			return s.Principals.load(func() *PrincipalsDoc { return &PrincipalsDoc{Principals: []Principal{}} })
		},
		func() error {
			return s.Credentials.load(func() *CredentialsDoc { return &CredentialsDoc{Credentials: []Credential{}} })
		},
		func() error { return s.Grants.load(func() *GrantsDoc { return &GrantsDoc{Grants: []Grant{}} }) },
		func() error {
			return s.Enrollments.load(func() *EnrollmentsDoc { return &EnrollmentsDoc{Enrollments: []Enrollment{}} })
		},
		func() error { return s.Invites.load(func() *InvitesDoc { return &InvitesDoc{Invites: []Invite{}} }) },
		func() error {
			return s.Sessions.load(func() *SessionsDoc { return &SessionsDoc{Sessions: []Session{}} })
		},
		func() error { return s.Settings.load(func() *Settings { return &Settings{} }) },
		func() error { p := DefaultPolicy(); return s.Policy.load(func() *Policy { return &p }) },
	}
	for _, load := range loads {
		if err := load(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name) }

// BoxDir returns the .capsol directory of a capsule. The id must already be
// a valid capsule id; anything else panics, because it would be a path
// built from unvalidated input.
func (s *Store) BoxDir(capsuleID string) string {
	if !ids.Valid(ids.Capsule, capsuleID) {
		panic(fmt.Sprintf("store: BoxDir called with invalid capsule id %q", capsuleID))
	}
	return filepath.Join(s.Dir, BoxesDir, capsuleID, ".capsol")
}

// WriteGate marks the start of a write to any file of the data directory
// and returns the function that marks its end. Freeze waits for open writes.
func (s *Store) WriteGate() (release func()) {
	s.barrier.RLock()
	return s.barrier.RUnlock
}

// Freeze blocks every writer until the returned function is called, so a
// backup can copy a consistent set of files.
func (s *Store) Freeze() (thaw func()) {
	s.barrier.Lock()
	return s.barrier.Unlock
}

func (s *Store) observeWrite(file string, d time.Duration) {
	if s.observer != nil {
		s.observer(file, d)
	}
}

// ReadMeta reads meta.json. A missing file returns os.ErrNotExist.
func ReadMeta(dir string) (Meta, error) {
	var m Meta
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, &CorruptError{File: MetaFile, Path: filepath.Join(dir, MetaFile), Err: err}
	}
	if m.Schema < 1 {
		return m, &CorruptError{File: MetaFile, Path: filepath.Join(dir, MetaFile),
			Err: fmt.Errorf("schema %d is not a layout number (expected 1 or higher)", m.Schema)}
	}
	return m, nil
}

// WriteMeta records the layout version of the data directory.
func WriteMeta(dir string, m Meta) error {
	data, err := encodeDocument(m)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, MetaFile), data)
}

// SchemaTooNewError reports a data directory written by a newer capsol.
type SchemaTooNewError struct {
	Found   Meta
	Current int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("data directory has schema %d (capsol %s) but this build knows schema %d (capsol %s)",
		e.Found.Schema, e.Found.Version, e.Current, version.Version)
}

// Check parses every JSON file of the data directory without changing
// anything and returns the first problem: a *CorruptError naming the file,
// or a *SchemaTooNewError. It returns fresh=true for a directory with no
// meta.json and no index files, which Initialize turns into a new layout.
func Check(dir string) (fresh bool, meta Meta, err error) {
	meta, err = ReadMeta(dir)
	if errors.Is(err, os.ErrNotExist) {
		for _, name := range IndexFiles {
			if _, statErr := os.Stat(filepath.Join(dir, name)); statErr == nil {
				return false, meta, &CorruptError{File: MetaFile, Path: filepath.Join(dir, MetaFile),
					Err: fmt.Errorf("missing while %s exists, so the layout version is unknown", name)}
			}
		}
		return true, meta, nil
	}
	if err != nil {
		return false, meta, err
	}
	if meta.Schema > version.Schema {
		return false, meta, &SchemaTooNewError{Found: meta, Current: version.Schema}
	}
	for _, name := range IndexFiles {
		if err := checkJSONObject(filepath.Join(dir, name), name); err != nil {
			return false, meta, err
		}
	}
	return false, meta, nil
}

func checkJSONObject(path, name string) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return &CorruptError{File: name, Path: path, Err: err}
	}
	if obj == nil {
		return &CorruptError{File: name, Path: path, Err: errors.New("top-level value is null, expected a JSON object")}
	}
	if validate, ok := recordValidators[name]; ok {
		if err := validate(data); err != nil {
			return &CorruptError{File: name, Path: path, Err: err}
		}
	}
	return nil
}

// recordValidators check the records of an index file before migrations
// run, so a file with bad records stops boot before anything is rewritten.
var recordValidators = map[string]func([]byte) error{
	CapsulesFile: func(data []byte) error { return decodeAndValidate(data, validateCapsules) },
	SharesFile:   func(data []byte) error { return decodeAndValidate(data, validateShares) },
	PolicyFile:   func(data []byte) error { return decodeAndValidate(data, validatePolicy) },
}

func decodeAndValidate[D any](data []byte, validate func(*D) error) error {
	doc, err := decodeDocument[D](data)
	if err != nil {
		return err
	}
	return validate(doc)
}

// Initialize writes the empty layout of the current schema into a fresh
// data directory. meta.json is written last, so an interrupted
// initialization is still fresh on the next boot.
func Initialize(dir string) error {
	if _, err := Open(dir, Options{}); err != nil {
		return err
	}
	if err := fsutil.MkdirAll(filepath.Join(dir, BoxesDir)); err != nil {
		return err
	}
	if err := fsutil.MkdirAll(filepath.Join(dir, AuditDir)); err != nil {
		return err
	}
	return WriteMeta(dir, Meta{Version: version.Version, Schema: version.Schema})
}

// RemoveStaleTemps deletes temporary files left in dir by writes that were
// interrupted by a crash, and returns their names.
func RemoveStaleTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		for _, name := range append([]string{MetaFile}, IndexFiles...) {
			if e.Type().IsRegular() && fsutil.IsTempName(e.Name(), name) {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					return removed, err
				}
				removed = append(removed, e.Name())
				break
			}
		}
	}
	sort.Strings(removed)
	return removed, nil
}

func validateCapsules(d *CapsulesDoc) error {
	for i, c := range d.Capsules {
		if !ids.Valid(ids.Capsule, c.ID) {
			return fmt.Errorf("capsules[%d].id %q is not a capsule id", i, c.ID)
		}
	}
	return nil
}

func validateShares(d *SharesDoc) error {
	for i, sh := range d.Shares {
		if !ids.Valid(ids.Connection, sh.ConnectionID) {
			return fmt.Errorf("shares[%d].connection_id %q is not a connection id", i, sh.ConnectionID)
		}
		if !ids.Valid(ids.Capsule, sh.CapsuleID) {
			return fmt.Errorf("shares[%d].capsule_id %q is not a capsule id", i, sh.CapsuleID)
		}
	}
	return nil
}

func validatePolicy(p *Policy) error {
	if p.AnonymousCapsuleTTLHours < 0 || p.SignalTTLSeconds < 0 || p.MaxGrantAgeDays < 0 || p.MaxIdleDays < 0 {
		return errors.New("policy values must not be negative")
	}
	return nil
}
