package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Operator roles and statuses.
const (
	RoleAdmin    = "admin"
	RoleApprover = "approver"
	RoleViewer   = "viewer"

	OperatorActive   = "active"
	OperatorDisabled = "disabled"
)

// Operator is a person who runs the registry.
type Operator struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// Role is "admin", "approver" or "viewer". A change applies on the
	// operator's next sign-in.
	Role string `json:"role"`
	// Status is "active" or "disabled".
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// UpdateOperatorRequest is the body of PATCH /v1/operators/:id. Nil fields
// are left out and leave the operator as it is.
type UpdateOperatorRequest struct {
	Role   *string `json:"role,omitempty"`
	Status *string `json:"status,omitempty"`
}

// NewInvite is a created invite. URL holds the single-use token and is
// shown only this once.
type NewInvite struct {
	InviteID  string    `json:"invite_id"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	// Emailed is true when the registry emailed the link over SMTP.
	Emailed bool `json:"emailed"`
}

// Invite is an operator invite as listed, without its token.
type Invite struct {
	InviteID string `json:"invite_id"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	// Status is "pending", "consumed", "revoked" or "expired".
	Status     string     `json:"status"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ConsumedAt *time.Time `json:"consumed_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// ListOperators returns the operators, oldest first.
func (c *Client) ListOperators(ctx context.Context) ([]Operator, error) {
	var out struct {
		Operators []Operator `json:"operators"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/operators", admin: true}, &out)
	return out.Operators, err
}

// CreateOperator adds an active operator directly, without an invite.
func (c *Client) CreateOperator(ctx context.Context, email, role string) (Operator, error) {
	var out Operator
	body := map[string]string{"email": email, "role": role}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/operators", body: body, admin: true}, &out)
	return out, err
}

// UpdateOperator changes an operator's role or status.
func (c *Client) UpdateOperator(ctx context.Context, id string, req UpdateOperatorRequest) (Operator, error) {
	var out Operator
	err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/operators/" + pathID(id), body: req, admin: true}, &out)
	return out, err
}

// SetOperatorRole sets an operator's role, which applies on their next
// sign-in.
func (c *Client) SetOperatorRole(ctx context.Context, id, role string) (Operator, error) {
	return c.UpdateOperator(ctx, id, UpdateOperatorRequest{Role: &role})
}

// SetOperatorStatus enables ("active") or disables ("disabled") an
// operator. Disabling ends their sessions at once.
func (c *Client) SetOperatorStatus(ctx context.Context, id, status string) (Operator, error) {
	return c.UpdateOperator(ctx, id, UpdateOperatorRequest{Status: &status})
}

// InviteOperator creates a single-use invite link for email with role,
// valid for 7 days. The registry emails it when smtp_url is set.
func (c *Client) InviteOperator(ctx context.Context, email, role string) (NewInvite, error) {
	var out NewInvite
	body := map[string]string{"email": email, "role": role}
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/operators/invites", body: body, admin: true}, &out)
	return out, err
}

// ListInvites returns the operator invites, oldest first.
func (c *Client) ListInvites(ctx context.Context) ([]Invite, error) {
	var out struct {
		Invites []Invite `json:"invites"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/operators/invites", admin: true}, &out)
	return out.Invites, err
}

// RevokeInvite makes a pending invite link unusable.
func (c *Client) RevokeInvite(ctx context.Context, inviteID string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/operators/invites/" + pathID(inviteID), admin: true}, nil)
}

// AuditFilter selects registry audit entries. Zero fields select
// everything, up to the registry's default limit of 1000 newest entries.
type AuditFilter struct {
	// Date is a UTC day as YYYY-MM-DD.
	Date string
	// Actor is an operator id or "admin-key".
	Actor string
	Limit int
}

// RegistryAudit returns the registry audit entries that match f, newest
// last, each a JSON object exactly as stored.
func (c *Client) RegistryAudit(ctx context.Context, f AuditFilter) ([]json.RawMessage, error) {
	query := url.Values{}
	setIf(query, "date", f.Date)
	setIf(query, "actor", f.Actor)
	if f.Limit != 0 {
		query.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Entries []json.RawMessage `json:"entries"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/audit", query: query, admin: true}, &out)
	return out.Entries, err
}
