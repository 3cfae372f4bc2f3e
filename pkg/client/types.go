package client

import (
	"encoding/json"
	"time"
)

// Capsule is a capsule of the registry.
type Capsule struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	OwnerID    *string    `json:"owner_id"`
	Anonymous  bool       `json:"anonymous"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	EntryCount int        `json:"entry_count"`
}

// CreateCapsuleRequest is the body of POST /v1/capsules.
type CreateCapsuleRequest struct {
	Name    string `json:"name"`
	OwnerID string `json:"owner_id,omitempty"`
}

// UpdateCapsuleRequest is the body of PATCH /v1/capsules/:id. Nil fields
// are left out and leave the capsule as it is.
type UpdateCapsuleRequest struct {
	Name *string `json:"name,omitempty"`
	// OwnerID sets the owner to an operator id.
	OwnerID *string `json:"owner_id,omitempty"`
	// ClearOwner sends "owner_id": null, which makes the capsule unowned.
	// It must not be combined with OwnerID.
	ClearOwner bool `json:"-"`
	// ClaimOwnership with the admin key also needs OwnerID.
	ClaimOwnership bool `json:"claim_ownership,omitempty"`
}

// MarshalJSON writes owner_id as null when ClearOwner is set.
func (r UpdateCapsuleRequest) MarshalJSON() ([]byte, error) {
	type plain UpdateCapsuleRequest
	if !r.ClearOwner {
		return json.Marshal(plain(r))
	}
	return json.Marshal(struct {
		plain
		OwnerID *string `json:"owner_id"`
	}{plain: plain(r)})
}

// Share is a new share with its credential, which the registry shows only
// once.
type Share struct {
	ConnectionID string `json:"connection_id"`
	Credential   string `json:"credential"`
	MCPURL       string `json:"mcp_url"`
	Role         string `json:"role"`
	Label        string `json:"label"`
}

// CreateShareRequest is the body of POST /v1/capsules/:id/shares.
type CreateShareRequest struct {
	Label string `json:"label"`
	Role  string `json:"role"`
}

// CreateEnrollmentRequest is the body of POST /v1/capsules/:id/enrollments.
// Nil Uses and TTLHours take the registry's defaults, 1 use and 24 hours.
type CreateEnrollmentRequest struct {
	Role     string `json:"role"`
	Label    string `json:"label,omitempty"`
	Uses     *int   `json:"uses,omitempty"`
	TTLHours *int   `json:"ttl_hours,omitempty"`
}

// EnrollmentToken is a new enrollment token, which the registry shows only
// once.
type EnrollmentToken struct {
	EnrollmentID string    `json:"enrollment_id"`
	Token        string    `json:"token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Enrollment is an enrollment token as listed, without the token.
type Enrollment struct {
	EnrollmentID string `json:"enrollment_id"`
	CapsuleID    string `json:"capsule_id"`
	Role         string `json:"role"`
	Label        string `json:"label"`
	UsesLeft     int    `json:"uses_left"`
	// Status is "active", "exhausted", "expired" or "revoked".
	Status    string     `json:"status"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Connection is a share or an OAuth credential family of an agent.
type Connection struct {
	ConnectionID string `json:"connection_id"`
	Label        string `json:"label"`
	Role         string `json:"role"`
	CapsuleID    string `json:"capsule_id"`
	PrincipalID  string `json:"principal_id"`
	// Kind is "share" or "oauth".
	Kind string `json:"kind"`
	// Status is "active", "paused" or "revoked".
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

// ConnectionFilter selects connections. Empty fields select everything.
type ConnectionFilter struct {
	CapsuleID string
	Status    string
	Label     string
}

// LogFilter selects capsule audit log entries. Zero fields select
// everything, up to the registry's default limit of 1000 newest entries.
type LogFilter struct {
	// Date is a UTC day as YYYY-MM-DD.
	Date         string
	Since        time.Time
	ConnectionID string
	Limit        int
}

// Enrolled is the share that redeeming an enrollment token created.
type Enrolled struct {
	ConnectionID string `json:"connection_id"`
	CapsuleID    string `json:"capsule_id"`
	MCPURL       string `json:"mcp_url"`
	Credential   string `json:"credential"`
	Role         string `json:"role"`
}

// AnonymousCapsule is a new anonymous capsule with the credential of its
// creator's share.
type AnonymousCapsule struct {
	CapsuleID  string    `json:"capsule_id"`
	MCPURL     string    `json:"mcp_url"`
	Credential string    `json:"credential"`
	ExpiresAt  time.Time `json:"expires_at"`
}
