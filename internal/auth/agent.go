// Package auth decides who an agent is from its bearer credential and why a
// refused request is refused. Credentials are looked up by their SHA-256
// only, and the refusal codes are checked in a fixed order so an agent
// always learns the most useful reason.
package auth

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Refusal codes of an agent request, in the order they are checked.
const (
	CodeInvalidToken     = "invalid_token"
	CodeTokenRevoked     = "token_revoked"
	CodeGrantRevoked     = "grant_revoked"
	CodeConnectionPaused = "connection_paused"
	CodeTokenExpired     = "token_expired"
)

// Agent is the identity behind an accepted credential.
type Agent struct {
	CapsuleID    string
	ConnectionID string
	PrincipalID  string
	Kind         string // store.KindShare or store.KindOAuth
	Role         string
	GrantID      string
	Label        string
}

// CanWrite reports whether the agent may call write tools.
func (a Agent) CanWrite() bool { return a.Role == store.RoleWriter }

// Refusal is the reason a credential was rejected. ConnectionID and PrincipalID
// are set when the credential could be tied to a connection.
type Refusal struct {
	Code         string
	Description  string
	ConnectionID string
	PrincipalID  string
	Kind         string
}

func (r *Refusal) Error() string { return r.Code + ": " + r.Description }

// Resolver checks agent credentials against the store. It keeps lookup
// maps built from the current index snapshots and rebuilds them whenever a
// snapshot changes, so every request observes the revocations made before it.
type Resolver struct {
	Store *store.Store

	mu    sync.Mutex
	cache *lookup
}

type lookup struct {
	credentials *store.CredentialsDoc
	shares      *store.SharesDoc
	grants      *store.GrantsDoc

	byHash       map[string]*store.Credential
	byConnection map[string]*store.Share
	byGrant      map[string]*store.Grant
}

func (r *Resolver) current() *lookup {
	creds, shares, grants := r.Store.Credentials.Get(), r.Store.Shares.Get(), r.Store.Grants.Get()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cache; c != nil && c.credentials == creds && c.shares == shares && c.grants == grants {
		return c
	}
	c := &lookup{
		credentials: creds, shares: shares, grants: grants,
		byHash:       make(map[string]*store.Credential, len(creds.Credentials)),
		byConnection: make(map[string]*store.Share, len(shares.Shares)),
		byGrant:      make(map[string]*store.Grant, len(grants.Grants)),
	}
	for i := range creds.Credentials {
		c.byHash[creds.Credentials[i].Hash] = &creds.Credentials[i]
	}
	for i := range shares.Shares {
		c.byConnection[shares.Shares[i].ConnectionID] = &shares.Shares[i]
	}
	for i := range grants.Grants {
		c.byGrant[grants.Grants[i].ID] = &grants.Grants[i]
	}
	r.cache = c
	return c
}

// BearerToken extracts the token of an Authorization header value, or "".
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Resolve returns the agent behind token for capsuleID, or the refusal.
func (r *Resolver) Resolve(capsuleID, token string, now time.Time) (Agent, *Refusal) {
	if token == "" {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: "missing bearer credential; send Authorization: Bearer <share credential or OAuth access token>"}
	}
	prefix := secret.PrefixOf(token)
	if prefix != secret.PrefixShare && prefix != secret.PrefixAccess {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: "credential is not a capsol share credential (capsol_share_…) or OAuth access token (capsol_at_…)"}
	}
	if !secret.CheckToken(token, prefix) {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: "credential is malformed or its checksum does not match; copy it again without changes"}
	}

	l := r.current()
	cred, ok := l.byHash[secret.Hash(token)]
	if !ok || cred.ConnectionID == nil {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: "unknown credential; re-enroll the agent or run the OAuth flow again"}
	}
	share, ok := l.byConnection[*cred.ConnectionID]
	if !ok {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: "credential has no connection; re-enroll the agent or run the OAuth flow again"}
	}
	if cred.CapsuleID != capsuleID || share.CapsuleID != capsuleID {
		return Agent{}, &Refusal{Code: CodeInvalidToken,
			Description: fmt.Sprintf("credential belongs to another capsule, not %s; use the MCP URL it was issued for", capsuleID)}
	}

	refusal := &Refusal{ConnectionID: share.ConnectionID, PrincipalID: share.PrincipalID, Kind: share.Kind}
	grantID := share.GrantID
	if cred.GrantID != nil {
		grantID = cred.GrantID
	}
	switch {
	case share.Status == store.StatusRevoked || cred.RevokedAt != nil:
		refusal.Code, refusal.Description = CodeTokenRevoked, "credential was revoked (by an operator, by its OAuth client, or because a used refresh token was presented again)"
		return Agent{}, refusal
	case cred.RotatedAt != nil:
		refusal.Code, refusal.Description = CodeTokenRevoked, "access token was replaced by a refresh; use the newest token"
		return Agent{}, refusal
	}
	if grantID != nil {
		grant, ok := l.byGrant[*grantID]
		if !ok || grant.Status == store.StatusRevoked {
			refusal.Code, refusal.Description = CodeGrantRevoked, "the grant behind this credential was revoked; ask an operator to approve access again"
			return Agent{}, refusal
		}
	}
	if share.Status == store.StatusPaused {
		refusal.Code, refusal.Description = CodeConnectionPaused, "connection is paused; an operator can resume it under Connections"
		return Agent{}, refusal
	}
	if expired(cred.ExpiresAt, now) || expired(share.ExpiresAt, now) {
		refusal.Code, refusal.Description = CodeTokenExpired, "credential expired; OAuth clients use their refresh token"
		return Agent{}, refusal
	}

	agent := Agent{
		CapsuleID: capsuleID, ConnectionID: share.ConnectionID, PrincipalID: share.PrincipalID,
		Kind: share.Kind, Role: share.Role, Label: share.Label,
	}
	if grantID != nil {
		agent.GrantID = *grantID
	}
	return agent, nil
}

func expired(at *time.Time, now time.Time) bool {
	return at != nil && !now.Before(*at)
}

// Challenge returns the WWW-Authenticate value of a refused MCP request.
func Challenge(refusal *Refusal, resourceMetadataURL string) string {
	description := strings.ReplaceAll(refusal.Code+": "+refusal.Description, `"`, `'`)
	return fmt.Sprintf(`Bearer error="invalid_token", error_description="%s", resource_metadata="%s"`,
		description, resourceMetadataURL)
}
