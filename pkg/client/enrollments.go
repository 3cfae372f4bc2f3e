package client

import (
	"context"
	"net/http"
)

// CreateEnrollment creates an enrollment token for a capsule. The token in
// the result is shown only this once.
func (c *Client) CreateEnrollment(ctx context.Context, capsuleID string, req CreateEnrollmentRequest) (EnrollmentToken, error) {
	var out EnrollmentToken
	path := "/v1/capsules/" + pathID(capsuleID) + "/enrollments"
	err := c.do(ctx, request{method: http.MethodPost, path: path, body: req, admin: true}, &out)
	return out, err
}

// ListEnrollments returns the enrollment tokens of a capsule, oldest first.
func (c *Client) ListEnrollments(ctx context.Context, capsuleID string) ([]Enrollment, error) {
	var out struct {
		Enrollments []Enrollment `json:"enrollments"`
	}
	path := "/v1/capsules/" + pathID(capsuleID) + "/enrollments"
	err := c.do(ctx, request{method: http.MethodGet, path: path, admin: true}, &out)
	return out.Enrollments, err
}

// RevokeEnrollment makes an enrollment token unusable.
func (c *Client) RevokeEnrollment(ctx context.Context, enrollmentID string) error {
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/enrollments/" + pathID(enrollmentID), admin: true}, nil)
}

// Enroll redeems one use of an enrollment token for a share, as an agent
// does. It does not send the admin key. label names the new connection;
// when empty the registry uses the enrollment's label.
func (c *Client) Enroll(ctx context.Context, token, label string) (Enrolled, error) {
	var out Enrolled
	body := map[string]string{"token": token, "label": label}
	err := c.do(ctx, request{method: http.MethodPost, path: "/enroll", body: body}, &out)
	return out, err
}

// CreateAnonymousCapsule creates an anonymous capsule, as an agent does. It
// does not send the admin key. An empty name takes the registry's default.
func (c *Client) CreateAnonymousCapsule(ctx context.Context, name string) (AnonymousCapsule, error) {
	var out AnonymousCapsule
	body := map[string]string{}
	if name != "" {
		body["name"] = name
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/anonymous/capsules", body: body}, &out)
	return out, err
}
