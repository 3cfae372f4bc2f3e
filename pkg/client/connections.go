package client

import (
	"context"
	"net/http"
	"net/url"
)

// CreateShare creates a share of a capsule. The credential in the result is
// shown only this once.
func (c *Client) CreateShare(ctx context.Context, capsuleID string, req CreateShareRequest) (Share, error) {
	var out Share
	path := "/v1/capsules/" + pathID(capsuleID) + "/shares"
	err := c.do(ctx, request{method: http.MethodPost, path: path, body: req, admin: true}, &out)
	return out, err
}

// ListConnections returns the connections that match f, oldest first.
func (c *Client) ListConnections(ctx context.Context, f ConnectionFilter) ([]Connection, error) {
	query := url.Values{}
	setIf(query, "capsule_id", f.CapsuleID)
	setIf(query, "status", f.Status)
	setIf(query, "label", f.Label)
	var out struct {
		Connections []Connection `json:"connections"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/v1/connections", query: query, admin: true}, &out)
	return out.Connections, err
}

// SetConnectionStatus sets a connection "active", "paused" or "revoked".
// Revoking is final: reactivating a revoked connection is a conflict.
func (c *Client) SetConnectionStatus(ctx context.Context, connectionID, status string) (Connection, error) {
	var out Connection
	body := map[string]string{"status": status}
	path := "/v1/shares/" + pathID(connectionID)
	err := c.do(ctx, request{method: http.MethodPatch, path: path, body: body, admin: true}, &out)
	return out, err
}
