package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

// DeletedBoxesDir is the directory under boxes/ that deleted capsules' boxes
// are moved to, as <capsule-id>-<unix seconds>.
const DeletedBoxesDir = ".deleted"

// CapsuleInfo is a capsule as the API shows it.
type CapsuleInfo struct {
	store.Capsule
	EntryCount int `json:"entry_count"`
}

// CapsuleUpdate lists the changes of UpdateCapsule. Nil and false fields
// leave the capsule as it is.
type CapsuleUpdate struct {
	Name *string
	// SetOwner makes OwnerID the new owner. An empty OwnerID makes the
	// capsule unowned.
	SetOwner bool
	OwnerID  string
}

// Capsule returns the capsule record with id.
func (r *Registry) Capsule(id string) (store.Capsule, bool) {
	for _, c := range r.Store.Capsules.Get().Capsules {
		if c.ID == id {
			return c, true
		}
	}
	return store.Capsule{}, false
}

// CreateCapsule adds a capsule and creates its box. ownerID is an
// operator id or "" for an unowned capsule. A ttl above zero makes the
// capsule expire, after which the janitor deletes it.
func (r *Registry) CreateCapsule(name, ownerID string, anonymous bool, ttl time.Duration) (CapsuleInfo, error) {
	name, err := cleanText("name", name, true)
	if err != nil {
		return CapsuleInfo{}, err
	}
	capsule := store.Capsule{ID: ids.New(ids.Capsule), Name: name, Anonymous: anonymous, CreatedAt: r.Now()}
	if ownerID != "" {
		if err := r.checkOwner(ownerID); err != nil {
			return CapsuleInfo{}, err
		}
		capsule.OwnerID = &ownerID
	}
	if ttl > 0 {
		expires := capsule.CreatedAt.Add(ttl)
		capsule.ExpiresAt = &expires
	}

	err = r.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, capsule)
		return nil
	})
	if err != nil {
		return CapsuleInfo{}, fmt.Errorf("create capsule: %w", err)
	}
	r.Logger.Info("capsule created", "capsule_id", capsule.ID, "anonymous", anonymous)

	// The box would also be created on first use; creating it now shows a
	// disk problem at once, in the log.
	if _, err := r.Box(capsule.ID); err != nil {
		r.Logger.Error("cannot create the box of a new capsule", "capsule_id", capsule.ID, "error", err)
	}
	return CapsuleInfo{Capsule: capsule}, nil
}

// ListCapsules returns the capsules with entry counts, oldest first. A
// non-empty owner keeps the capsules of that operator id, and a non-empty q
// keeps the capsules whose name or id contains it, ignoring case.
func (r *Registry) ListCapsules(owner, q string) []CapsuleInfo {
	q = strings.ToLower(strings.TrimSpace(q))
	list := []CapsuleInfo{}
	for _, c := range r.Store.Capsules.Get().Capsules {
		if owner != "" && (c.OwnerID == nil || *c.OwnerID != owner) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(c.Name), q) && !strings.Contains(c.ID, q) {
			continue
		}
		list = append(list, r.capsuleInfo(c))
	}
	return list
}

// GetCapsule returns one capsule with its entry count.
func (r *Registry) GetCapsule(id string) (CapsuleInfo, error) {
	c, ok := r.Capsule(id)
	if !ok {
		return CapsuleInfo{}, capsuleNotFound(id)
	}
	return r.capsuleInfo(c), nil
}

// capsuleInfo adds the entry count from the capsule's box. A box that
// cannot be opened is logged and counted as empty, so that one damaged box
// does not hide every other capsule from the list. A missing box directory
// is counted as empty without opening it, because opening would create it
// again while a delete is moving it away.
func (r *Registry) capsuleInfo(c store.Capsule) CapsuleInfo {
	info := CapsuleInfo{Capsule: c}
	if _, err := os.Stat(r.Store.BoxDir(c.ID)); errors.Is(err, os.ErrNotExist) {
		return info
	}
	b, err := r.Box(c.ID)
	if err != nil {
		r.Logger.Error("cannot open box to count its entries", "capsule_id", c.ID, "error", err)
		return info
	}
	info.EntryCount, _ = b.Stats()
	return info
}

// UpdateCapsule renames a capsule or changes its owner.
func (r *Registry) UpdateCapsule(id string, update CapsuleUpdate) (CapsuleInfo, error) {
	var name string
	if update.Name != nil {
		var err error
		if name, err = cleanText("name", *update.Name, true); err != nil {
			return CapsuleInfo{}, err
		}
	}
	if update.SetOwner && update.OwnerID != "" {
		if err := r.checkOwner(update.OwnerID); err != nil {
			return CapsuleInfo{}, err
		}
	}
	if update.Name == nil && !update.SetOwner {
		return r.GetCapsule(id)
	}

	var updated store.Capsule
	err := r.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		for i := range doc.Capsules {
			c := &doc.Capsules[i]
			if c.ID != id {
				continue
			}
			if update.Name != nil {
				c.Name = name
			}
			if update.SetOwner {
				c.OwnerID = nil
				if update.OwnerID != "" {
					owner := update.OwnerID
					c.OwnerID = &owner
				}
			}
			updated = *c
			return nil
		}
		return capsuleNotFound(id)
	})
	if err != nil {
		return CapsuleInfo{}, err
	}
	return r.capsuleInfo(updated), nil
}

// DeleteCapsule revokes every share, credential, grant and enrollment of a
// capsule, moves its box to boxes/.deleted/<id>-<unix> and removes the
// capsule record. The revoked records stay in the index so that operators
// still see the connections, and the janitor prunes the credentials later.
// actor is recorded as who revoked the grants.
func (r *Registry) DeleteCapsule(id, actor string) error {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	if _, ok := r.Capsule(id); !ok {
		return capsuleNotFound(id)
	}

	// Each step can be repeated, and the record goes last: after a crash
	// the capsule is still listed, and deleting it again finishes the work.
	revoked, err := r.revokeCapsuleAccess(id, actor, r.Now())
	if err != nil {
		return err
	}
	for _, connectionID := range revoked {
		r.ConnectionChanged(connectionID)
	}

	// CapsuleGone closes the capsule's audit log before its directory moves.
	r.CapsuleGone(id)
	moved, err := r.moveBoxAway(id)
	if err != nil {
		return fmt.Errorf("delete capsule %s: %w", id, err)
	}

	err = r.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = removeCapsules(doc.Capsules, map[string]bool{id: true})
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete capsule %s: %w", id, err)
	}
	r.Logger.Info("capsule deleted", "capsule_id", id, "connections_revoked", len(revoked), "box_moved_to", moved)
	return nil
}

// revokeCapsuleAccess marks the shares, credentials, grants and
// enrollments of a capsule revoked and returns the connection ids whose
// status changed. The caller holds ops.mutations.
func (r *Registry) revokeCapsuleAccess(capsuleID, actor string, now time.Time) ([]string, error) {
	err := r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		for i := range doc.Credentials {
			c := &doc.Credentials[i]
			if c.CapsuleID == capsuleID && c.RevokedAt == nil {
				c.RevokedAt = &now
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke credentials of %s: %w", capsuleID, err)
	}

	var revoked []string
	err = r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		for i := range doc.Shares {
			sh := &doc.Shares[i]
			if sh.CapsuleID == capsuleID && sh.Status != store.StatusRevoked {
				sh.Status = store.StatusRevoked
				sh.RevokedAt = &now
				revoked = append(revoked, sh.ConnectionID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke shares of %s: %w", capsuleID, err)
	}

	err = r.Store.Grants.Update(func(doc *store.GrantsDoc) error {
		for i := range doc.Grants {
			g := &doc.Grants[i]
			if g.CapsuleID == capsuleID && g.Status != store.StatusRevoked {
				g.Status = store.StatusRevoked
				g.RevokedBy = &actor
				g.RevokedAt = &now
			}
		}
		return nil
	})
	if err != nil {
		return revoked, fmt.Errorf("revoke grants of %s: %w", capsuleID, err)
	}

	err = r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		for i := range doc.Enrollments {
			e := &doc.Enrollments[i]
			if e.CapsuleID == capsuleID && e.RevokedAt == nil {
				e.RevokedAt = &now
			}
		}
		return nil
	})
	if err != nil {
		return revoked, fmt.Errorf("revoke enrollments of %s: %w", capsuleID, err)
	}
	return revoked, nil
}

// moveBoxAway renames boxes/<id> to boxes/.deleted/<id>-<unix> and returns
// the new path, or "" when the capsule had no box directory.
func (r *Registry) moveBoxAway(id string) (string, error) {
	boxesDir := filepath.Join(r.Store.Dir, store.BoxesDir)
	from := filepath.Dir(r.Store.BoxDir(id))
	if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}

	deletedDir := filepath.Join(boxesDir, DeletedBoxesDir)
	if err := fsutil.MkdirAll(deletedDir); err != nil {
		return "", fmt.Errorf("create %s: %w", deletedDir, err)
	}
	to := filepath.Join(deletedDir, fmt.Sprintf("%s-%d", id, r.Now().Unix()))
	if err := os.Rename(from, to); err != nil {
		return "", fmt.Errorf("move box: %w", err)
	}
	if err := fsutil.SyncDir(boxesDir); err != nil {
		return to, err
	}
	return to, fsutil.SyncDir(deletedDir)
}

func removeCapsules(capsules []store.Capsule, remove map[string]bool) []store.Capsule {
	kept := capsules[:0]
	for _, c := range capsules {
		if !remove[c.ID] {
			kept = append(kept, c)
		}
	}
	return kept
}
