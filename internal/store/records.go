package store

import "time"

// Roles an agent credential can carry.
const (
	RoleReader = "reader"
	RoleWriter = "writer"
)

// Connection kinds and statuses.
const (
	KindShare = "share"
	KindOAuth = "oauth"

	StatusActive   = "active"
	StatusPaused   = "paused"
	StatusRevoked  = "revoked"
	StatusPending  = "pending"
	StatusApproved = "approved"
)

// Capsule is one record of capsules.json.
type Capsule struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	OwnerID   *string    `json:"owner_id"`
	Anonymous bool       `json:"anonymous"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// Share is one record of shares.json: a credentialed link between a
// principal and a capsule, listed to operators as a connection.
type Share struct {
	ConnectionID string     `json:"connection_id"`
	CapsuleID    string     `json:"capsule_id"`
	PrincipalID  string     `json:"principal_id"`
	Label        string     `json:"label"`
	Role         string     `json:"role"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	GrantID      *string    `json:"grant_id"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

// Principal is one record of principals.json: an agent, an OAuth client or
// an operator.
type Principal struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	Email        *string    `json:"email"`
	Role         *string    `json:"role"`
	Status       *string    `json:"status"`
	ClientID     *string    `json:"client_id"`
	RedirectURIs []string   `json:"redirect_uris"`
	SecretHash   *string    `json:"secret_hash"`
	AuthMethod   *string    `json:"token_endpoint_auth_method"`
	CreatedAt    time.Time  `json:"created_at"`
	LastLoginAt  *time.Time `json:"last_login_at"`
}

// Principal kinds.
const (
	PrincipalAgent    = "agent"
	PrincipalClient   = "oauth_client"
	PrincipalOperator = "operator"
)

// Credential is one record of credentials.json. Only the SHA-256 of the
// secret is stored.
type Credential struct {
	Hash         string     `json:"hash"`
	Kind         string     `json:"kind"`
	ConnectionID *string    `json:"connection_id"`
	CapsuleID    string     `json:"capsule_id"`
	GrantID      *string    `json:"grant_id"`
	FamilyID     *string    `json:"family_id"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	RotatedAt    *time.Time `json:"rotated_at"`
}

// Credential kinds.
const (
	CredentialShare   = "share"
	CredentialAccess  = "access"
	CredentialRefresh = "refresh"
)

// Grant is one record of grants.json: a principal may use a capsule with a
// role once approved.
type Grant struct {
	ID          string     `json:"id"`
	CapsuleID   string     `json:"capsule_id"`
	PrincipalID string     `json:"principal_id"`
	ClientName  string     `json:"client_name"`
	Role        string     `json:"role"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  *string    `json:"approved_by"`
	ApprovedAt  *time.Time `json:"approved_at"`
	RevokedBy   *string    `json:"revoked_by"`
	RevokedAt   *time.Time `json:"revoked_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`

	// The pending OAuth authorization request behind the grant. RequestKey
	// is the SHA-256 of client id, capsule and state, so a repeated
	// authorization request finds the same grant.
	ClientID     string     `json:"client_id"`
	RequestKey   string     `json:"request_key"`
	RedirectURI  string     `json:"redirect_uri"`
	Scope        string     `json:"scope"`
	CodeIssuedAt *time.Time `json:"code_issued_at"`
}

// Enrollment is one record of enrollments.json.
type Enrollment struct {
	ID        string     `json:"id"`
	CapsuleID string     `json:"capsule_id"`
	Role      string     `json:"role"`
	Label     string     `json:"label"`
	TokenHash string     `json:"token_hash"`
	UsesLeft  int        `json:"uses_left"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Invite is one record of invites.json.
type Invite struct {
	ID         string     `json:"id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	TokenHash  string     `json:"token_hash"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ConsumedAt *time.Time `json:"consumed_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Session is one record of sessions.json: a dashboard session of an
// operator, keyed by the SHA-256 of its random id.
type Session struct {
	IDHash     string `json:"id_hash"`
	OperatorID string `json:"operator_id"`
	// Role is the operator's role when the session was created. A role
	// change applies from the next sign-in on, so the session keeps it.
	// Sessions written before this field existed have "" and use the
	// operator's current role.
	Role       string    `json:"role,omitempty"`
	CSRFHash   string    `json:"csrf_hash"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Settings is the content of settings.json. ClientSecret and SMTPURL hold
// "enc:v1:…" ciphertexts, never clear text.
type Settings struct {
	PublicURL *string       `json:"public_url"`
	OIDC      OIDCSettings  `json:"oidc"`
	SMTPURL   *string       `json:"smtp_url"`
	OAuth     OAuthSettings `json:"oauth"`
}

// OIDCSettings configures operator sign-in.
type OIDCSettings struct {
	Issuer       *string `json:"issuer"`
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
}

// OAuthSettings configures the authorization server for MCP clients.
type OAuthSettings struct {
	AllowPrivateClientMetadata bool `json:"allow_private_client_metadata"`
}

// Policy is the content of policy.json.
type Policy struct {
	AllowedRoles               []string `json:"allowed_roles"`
	MaxGrantAgeDays            int      `json:"max_grant_age_days"`
	MaxIdleDays                int      `json:"max_idle_days"`
	AllowAnonymousCapsules     bool     `json:"allow_anonymous_capsules"`
	AnonymousCapsuleTTLHours   int      `json:"anonymous_capsule_ttl_hours"`
	SignalTTLSeconds           int      `json:"signal_ttl_seconds"`
	MaxPendingGrantsPerCapsule int      `json:"max_pending_grants_per_capsule"`
}

// DefaultPolicy returns the policy of a new registry.
func DefaultPolicy() Policy {
	return Policy{
		AllowedRoles:               []string{RoleReader, RoleWriter},
		AllowAnonymousCapsules:     true,
		AnonymousCapsuleTTLHours:   168,
		SignalTTLSeconds:           86400,
		MaxPendingGrantsPerCapsule: 20,
	}
}

// Meta is the content of meta.json.
type Meta struct {
	Version string `json:"version"`
	Schema  int    `json:"schema"`
}

// The documents stored in each index file.
type (
	CapsulesDoc struct {
		Capsules []Capsule `json:"capsules"`
	}
	SharesDoc struct {
		Shares []Share `json:"shares"`
	}
	PrincipalsDoc struct {
		Principals []Principal `json:"principals"`
	}
	CredentialsDoc struct {
		Credentials []Credential `json:"credentials"`
	}
	GrantsDoc struct {
		Grants []Grant `json:"grants"`
	}
	EnrollmentsDoc struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	InvitesDoc struct {
		Invites []Invite `json:"invites"`
	}
	SessionsDoc struct {
		Sessions []Session `json:"sessions"`
	}
)
