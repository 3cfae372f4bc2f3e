package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Grant is an OAuth client's approval to use a capsule.
type Grant struct {
	ID          string `json:"id"`
	CapsuleID   string `json:"capsule_id"`
	PrincipalID string `json:"principal_id"`
	ClientName  string `json:"client_name"`
	Role        string `json:"role"`
	// Status is "pending", "approved" or "revoked".
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedBy  *string    `json:"approved_by"`
	RevokedBy   *string    `json:"revoked_by"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// GrantFilter selects grants. Empty fields select everything.
type GrantFilter struct {
	// Status is "pending", "approved" or "revoked".
	Status    string
	CapsuleID string
}

// ListGrants returns the grants that match f, oldest first.
func (c *Client) ListGrants(ctx context.Context, f GrantFilter) ([]Grant, error) {
	query := url.Values{}
	setIf(query, "status", f.Status)
	setIf(query, "capsule_id", f.CapsuleID)
	var out struct {
		Grants []Grant `json:"grants"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/grants", query: query, admin: true}, &out)
	return out.Grants, err
}

// ApproveGrant approves a pending grant, so the client's authorization
// page completes on its next check.
func (c *Client) ApproveGrant(ctx context.Context, id string) (Grant, error) {
	var out Grant
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/grants/" + pathID(id) + "/approve", admin: true}, &out)
	return out, err
}

// RevokeGrant denies a pending grant or revokes an approved one. Tokens
// issued under it are then refused with grant_revoked.
func (c *Client) RevokeGrant(ctx context.Context, id string) (Grant, error) {
	var out Grant
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/grants/" + pathID(id) + "/revoke", admin: true}, &out)
	return out, err
}

// RevokeOAuthToken revokes an OAuth access or refresh token and the rest
// of its token family with POST /oauth/revoke (RFC 7009). An unknown token
// is not an error, as the RFC requires. The admin key is not sent.
func (c *Client) RevokeOAuthToken(ctx context.Context, token string) error {
	return c.postForm(ctx, "/oauth/revoke", url.Values{"token": {token}})
}

// postForm sends an application/x-www-form-urlencoded POST without the
// admin key, as the OAuth endpoints expect, and reads their RFC 6749
// error body ({"error", "error_description"}) into an *APIError.
func (c *Client) postForm(ctx context.Context, path string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("build POST %s request: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	apiErr := &APIError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		apiErr.Code, apiErr.Message = body.Error, body.Description
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	return apiErr
}
