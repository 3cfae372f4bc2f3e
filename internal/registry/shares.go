package registry

import (
	"fmt"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// NewShare is a share as its creator receives it. Credential is shown only
// here and stored only as its SHA-256.
type NewShare struct {
	ConnectionID string `json:"connection_id"`
	Credential   string `json:"credential"`
	MCPURL       string `json:"mcp_url"`
	Role         string `json:"role"`
	Label        string `json:"label"`
}

// CreateShare creates an agent principal, an active share of the capsule
// and its capsol_share_… credential.
func (r *Registry) CreateShare(capsuleID, label, role string) (NewShare, error) {
	label, err := cleanText("label", label, true)
	if err != nil {
		return NewShare{}, err
	}
	if err := r.checkRole(role); err != nil {
		return NewShare{}, err
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	capsule, err := r.liveCapsule(capsuleID)
	if err != nil {
		return NewShare{}, err
	}
	return r.createShare(capsule, label, role)
}

// liveCapsule returns the capsule with id unless it is missing or expired.
func (r *Registry) liveCapsule(id string) (store.Capsule, error) {
	capsule, ok := r.Capsule(id)
	if !ok {
		return capsule, capsuleNotFound(id)
	}
	if capsule.ExpiresAt != nil && !r.Now().Before(*capsule.ExpiresAt) {
		return capsule, newError(CodeConflict, "capsule %s expired at %s and is about to be deleted; create a new capsule",
			id, capsule.ExpiresAt.Format(time.RFC3339))
	}
	return capsule, nil
}

// createShare writes the principal, the share and the credential, in that
// order, so that a credential never names a missing share. The share of an
// expiring capsule expires with it. The caller holds ops.mutations and has
// checked the label and the role.
func (r *Registry) createShare(capsule store.Capsule, label, role string) (NewShare, error) {
	now := r.Now()
	principal := store.Principal{ID: ids.New(ids.Principal), Kind: store.PrincipalAgent, Name: label, CreatedAt: now}
	share := store.Share{
		ConnectionID: ids.New(ids.Connection),
		CapsuleID:    capsule.ID,
		PrincipalID:  principal.ID,
		Label:        label,
		Role:         role,
		Kind:         store.KindShare,
		Status:       store.StatusActive,
		CreatedAt:    now,
		ExpiresAt:    capsule.ExpiresAt,
	}
	token := secret.NewToken(secret.PrefixShare)
	connectionID := share.ConnectionID
	credential := store.Credential{
		Hash:         secret.Hash(token),
		Kind:         store.CredentialShare,
		ConnectionID: &connectionID,
		CapsuleID:    capsule.ID,
		CreatedAt:    now,
		ExpiresAt:    capsule.ExpiresAt,
	}

	err := r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		doc.Principals = append(doc.Principals, principal)
		return nil
	})
	if err != nil {
		return NewShare{}, fmt.Errorf("create principal of share: %w", err)
	}
	err = r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, share)
		return nil
	})
	if err != nil {
		return NewShare{}, fmt.Errorf("create share: %w", err)
	}
	err = r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = append(doc.Credentials, credential)
		return nil
	})
	if err != nil {
		return NewShare{}, fmt.Errorf("store share credential: %w", err)
	}

	r.Logger.Info("share created", "capsule_id", capsule.ID, "connection_id", share.ConnectionID,
		"principal_id", principal.ID, "role", role)
	return NewShare{
		ConnectionID: share.ConnectionID,
		Credential:   token,
		MCPURL:       r.MCPURL(capsule.ID),
		Role:         role,
		Label:        label,
	}, nil
}
