package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListCapsules returns the capsules, oldest first. owner keeps the
// capsules of one operator id and q those whose name or id contains it;
// empty strings select everything.
func (c *Client) ListCapsules(ctx context.Context, owner, q string) ([]Capsule, error) {
	query := url.Values{}
	setIf(query, "owner", owner)
	setIf(query, "q", q)
	var out struct {
		Capsules []Capsule `json:"capsules"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/capsules", query: query, admin: true}, &out)
	return out.Capsules, err
}

// CreateCapsule creates a capsule.
func (c *Client) CreateCapsule(ctx context.Context, req CreateCapsuleRequest) (Capsule, error) {
	var out Capsule
	err := c.do(ctx, request{method: http.MethodPost, path: "/v1/capsules", body: req, admin: true}, &out)
	return out, err
}

// GetCapsule returns one capsule.
func (c *Client) GetCapsule(ctx context.Context, id string) (Capsule, error) {
	var out Capsule
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/capsules/" + pathID(id), admin: true}, &out)
	return out, err
}

// UpdateCapsule renames a capsule or changes its owner.
func (c *Client) UpdateCapsule(ctx context.Context, id string, req UpdateCapsuleRequest) (Capsule, error) {
	var out Capsule
	err := c.do(ctx, request{method: http.MethodPatch, path: "/v1/capsules/" + pathID(id), body: req, admin: true}, &out)
	return out, err
}

// DeleteCapsule deletes a capsule: its shares and grants are revoked and
// its box is moved to boxes/.deleted/.
func (c *Client) DeleteCapsule(ctx context.Context, id string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/capsules/" + pathID(id), admin: true}, nil)
}

// CapsuleMCPURL returns the MCP URL of a capsule from its OAuth protected
// resource metadata (RFC 9728). The URL starts with the registry's public
// URL, which can differ from the URL that the client calls.
func (c *Client) CapsuleMCPURL(ctx context.Context, capsuleID string) (string, error) {
	var out struct {
		Resource string `json:"resource"`
	}
	path := "/.well-known/oauth-protected-resource/mcp/" + pathID(capsuleID)
	if err := c.do(ctx, request{method: http.MethodGet, path: path}, &out); err != nil {
		return "", err
	}
	if out.Resource == "" {
		return "", fmt.Errorf("GET %s: the response has no resource", path)
	}
	return out.Resource, nil
}

// CapsuleLogs returns the capsule audit log entries that match f, newest
// last, each a JSON object exactly as stored.
func (c *Client) CapsuleLogs(ctx context.Context, capsuleID string, f LogFilter) ([]json.RawMessage, error) {
	query := url.Values{}
	setIf(query, "date", f.Date)
	if !f.Since.IsZero() {
		query.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	setIf(query, "connection_id", f.ConnectionID)
	if f.Limit != 0 {
		query.Set("limit", strconv.Itoa(f.Limit))
	}
	var out struct {
		Entries []json.RawMessage `json:"entries"`
	}
	path := "/v1/capsules/" + pathID(capsuleID) + "/logs"
	err := c.do(ctx, request{method: http.MethodGet, path: path, query: query, admin: true}, &out)
	return out.Entries, err
}

func setIf(query url.Values, key, value string) {
	if value != "" {
		query.Set(key, value)
	}
}
