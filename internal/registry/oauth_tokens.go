package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Lifetimes of OAuth tokens.
const (
	AccessTokenTTL  = 30 * 24 * time.Hour
	RefreshTokenTTL = 90 * 24 * time.Hour
)

// CodeInvalidGrant is the OAuth token error for a refresh token or code
// that is unknown, expired, revoked or reused.
const CodeInvalidGrant = "invalid_grant"

// TokenPair is the response of the token endpoint.
type TokenPair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int
	Role         string
	ConnectionID string
}

// IssueTokens starts a new credential family for an approved grant: one
// connection of kind oauth, listed under /v1/connections, with an access
// token and a refresh token.
func (r *Registry) IssueTokens(grant store.Grant) (TokenPair, error) {
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	current, ok := r.GrantRecord(grant.ID)
	if !ok || current.Status != store.StatusApproved {
		return TokenPair{}, newError(CodeInvalidGrant, "the grant behind this authorization code is no longer approved")
	}
	if _, err := r.liveCapsule(grant.CapsuleID); err != nil {
		return TokenPair{}, newError(CodeInvalidGrant, "capsule %s no longer exists", grant.CapsuleID)
	}

	now := r.Now()
	grantID := grant.ID
	// The connection lives as long as its refresh token; each rotation
	// moves its expiry.
	expiresAt := now.Add(RefreshTokenTTL)
	share := store.Share{
		ConnectionID: ids.New(ids.Connection), CapsuleID: grant.CapsuleID, PrincipalID: grant.PrincipalID,
		Label: grant.ClientName, Role: grant.Role, Kind: store.KindOAuth, Status: store.StatusActive,
		GrantID: &grantID, CreatedAt: now, ExpiresAt: &expiresAt,
	}
	err := r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, share)
		return nil
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("create OAuth connection: %w", err)
	}
	pair, err := r.addTokenPair(share, now)
	if err != nil {
		return TokenPair{}, err
	}
	r.Logger.Info("OAuth tokens issued", "connection_id", share.ConnectionID, "grant_id", grant.ID,
		"capsule_id", grant.CapsuleID, "principal_id", grant.PrincipalID, "role", grant.Role)
	return pair, nil
}

// addTokenPair stores a new access and refresh token of a family. The
// caller holds ops.mutations.
func (r *Registry) addTokenPair(share store.Share, now time.Time) (TokenPair, error) {
	access := secret.NewToken(secret.PrefixAccess)
	refresh := secret.NewToken(secret.PrefixRefresh)
	connectionID := share.ConnectionID
	accessExpiry := now.Add(AccessTokenTTL)
	refreshExpiry := now.Add(RefreshTokenTTL)
	err := r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = append(doc.Credentials,
			store.Credential{Hash: secret.Hash(access), Kind: store.CredentialAccess, ConnectionID: &connectionID,
				CapsuleID: share.CapsuleID, GrantID: share.GrantID, FamilyID: &connectionID, CreatedAt: now, ExpiresAt: &accessExpiry},
			store.Credential{Hash: secret.Hash(refresh), Kind: store.CredentialRefresh, ConnectionID: &connectionID,
				CapsuleID: share.CapsuleID, GrantID: share.GrantID, FamilyID: &connectionID, CreatedAt: now, ExpiresAt: &refreshExpiry})
		return nil
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("store OAuth tokens: %w", err)
	}
	return TokenPair{
		AccessToken: access, RefreshToken: refresh, ExpiresIn: int(AccessTokenTTL / time.Second),
		Role: share.Role, ConnectionID: share.ConnectionID,
	}, nil
}

// RefreshTokens rotates a family: the refresh token and the family's
// access tokens are marked rotated and a new pair is issued. Presenting a
// rotated refresh token again is taken as theft, and the whole family is
// revoked.
func (r *Registry) RefreshTokens(refreshToken, principalID string) (TokenPair, error) {
	if !secret.CheckToken(refreshToken, secret.PrefixRefresh) {
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token is not a capsol refresh token (capsol_rt_…) or its checksum does not match")
	}
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	now := r.Now()
	cred, share, ok := r.family(secret.Hash(refreshToken))
	if !ok || cred.Kind != store.CredentialRefresh {
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token is unknown; run the authorization flow again")
	}
	if share.PrincipalID != principalID {
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token was issued to another client")
	}
	switch {
	case cred.RotatedAt != nil:
		if err := r.revokeFamily(share, now, "refresh-token-reuse"); err != nil {
			return TokenPair{}, err
		}
		r.Logger.Warn("refresh token reused; token family revoked", "connection_id", share.ConnectionID, "principal_id", principalID)
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token was already used; the whole token family is revoked, so run the authorization flow again")
	case cred.RevokedAt != nil || share.Status == store.StatusRevoked:
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token was revoked; run the authorization flow again")
	case cred.ExpiresAt != nil && !now.Before(*cred.ExpiresAt):
		return TokenPair{}, newError(CodeInvalidGrant, "refresh_token expired; run the authorization flow again")
	case share.Status == store.StatusPaused:
		return TokenPair{}, newError(CodeInvalidGrant, "the connection is paused; an operator can resume it under Connections")
	}
	if share.GrantID != nil {
		if g, ok := r.GrantRecord(*share.GrantID); !ok || g.Status != store.StatusApproved {
			return TokenPair{}, newError(CodeInvalidGrant, "the grant behind this refresh token was revoked; ask for access again")
		}
	}

	err := r.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		for i := range doc.Credentials {
			c := &doc.Credentials[i]
			if c.FamilyID != nil && *c.FamilyID == share.ConnectionID && c.RotatedAt == nil && c.RevokedAt == nil {
				c.RotatedAt = &now
			}
		}
		return nil
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("rotate OAuth tokens: %w", err)
	}
	pair, err := r.addTokenPair(share, now)
	if err != nil {
		return TokenPair{}, err
	}
	expiresAt := now.Add(RefreshTokenTTL)
	err = r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		for i := range doc.Shares {
			if doc.Shares[i].ConnectionID == share.ConnectionID {
				doc.Shares[i].ExpiresAt = &expiresAt
			}
		}
		return nil
	})
	if err != nil {
		return TokenPair{}, fmt.Errorf("extend OAuth connection %s: %w", share.ConnectionID, err)
	}
	r.ConnectionChanged(share.ConnectionID)
	return pair, nil
}

// RevokeToken revokes the family of an access or refresh token (RFC 7009).
// It returns false for a token it does not know.
func (r *Registry) RevokeToken(token string) (bool, error) {
	prefix := secret.PrefixOf(token)
	if (prefix != secret.PrefixAccess && prefix != secret.PrefixRefresh) || !secret.CheckToken(token, prefix) {
		return false, nil
	}
	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	_, share, ok := r.family(secret.Hash(token))
	if !ok {
		return false, nil
	}
	if err := r.revokeFamily(share, r.Now(), "oauth-client"); err != nil {
		return true, err
	}
	r.Logger.Info("OAuth token family revoked", "connection_id", share.ConnectionID, "principal_id", share.PrincipalID)
	return true, nil
}

// family returns a credential and the connection it belongs to.
func (r *Registry) family(hash string) (store.Credential, store.Share, bool) {
	for _, c := range r.Store.Credentials.Get().Credentials {
		if c.Hash != hash || c.ConnectionID == nil {
			continue
		}
		for _, sh := range r.Store.Shares.Get().Shares {
			if sh.ConnectionID == *c.ConnectionID {
				return c, sh, true
			}
		}
	}
	return store.Credential{}, store.Share{}, false
}

// revokeFamily revokes a connection, all its credentials and the grant it
// was issued under, so Approvals and Connections agree; actor becomes the
// grant's revoked_by. The caller holds ops.mutations.
func (r *Registry) revokeFamily(share store.Share, now time.Time, actor string) error {
	connectionID := share.ConnectionID
	err := r.Store.Shares.Update(func(doc *store.SharesDoc) error {
		for i := range doc.Shares {
			sh := &doc.Shares[i]
			if sh.ConnectionID == connectionID && sh.Status != store.StatusRevoked {
				sh.Status = store.StatusRevoked
				sh.RevokedAt = &now
				return nil
			}
		}
		return errUnchanged
	})
	if err := ignoreUnchanged(err); err != nil && !errors.Is(err, errUnchanged) {
		return fmt.Errorf("revoke connection %s: %w", connectionID, err)
	}
	if err := r.revokeCredentials(connectionID, now); err != nil {
		return fmt.Errorf("revoke credentials of %s: %w", connectionID, err)
	}
	if share.GrantID != nil {
		if _, err := r.revokeGrants(map[string]bool{*share.GrantID: true}, actor, false); err != nil {
			return fmt.Errorf("revoke grant of %s: %w", connectionID, err)
		}
	}
	r.ConnectionChanged(connectionID)
	return nil
}
