// Package client is a Go client for the capsol /v1 admin API and the
// agent-facing enrollment and anonymous capsule endpoints. The capsol CLI
// and the tests use it. Every method returns an *APIError when the
// registry answers with an error status.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of an error response is read.
const maxErrorBody = 64 << 10

// Client calls one registry. Its methods are safe for concurrent use.
type Client struct {
	baseURL  string
	adminKey string
	http     *http.Client
}

// New returns a client for the registry at baseURL, such as
// http://localhost:4000, authenticating /v1 requests with adminKey. A nil
// httpClient means http.DefaultClient.
func New(baseURL, adminKey string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), adminKey: adminKey, http: httpClient}
}

// APIError is an error response of the registry.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error_code of the response, such as "not_found".
	Code string
	// Message is the error sentence of the response.
	Message string
	// RetryAfter is the wait that a 429 response asks for, or zero.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("registry returned HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Code)
}

// ErrorCode returns the error_code of the *APIError in err's chain, or "".
func ErrorCode(err error) string {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return ""
}

// request is one call to the registry.
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	// admin sends the admin key.
	admin bool
}

// do sends req and decodes a 2xx JSON response into out, which may be nil.
func (c *Client) do(ctx context.Context, req request, out any) error {
	target := c.baseURL + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}

	var body io.Reader
	if req.body != nil {
		data, err := json.Marshal(req.body)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", req.method, req.path, err)
		}
		body = bytes.NewReader(data)
	}
	httpReq, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return fmt.Errorf("build %s %s request: %w", req.method, req.path, err)
	}
	httpReq.Header.Set("Accept", "application/json")
	if req.body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	if req.admin {
		httpReq.Header.Set("Authorization", "Bearer "+c.adminKey)
	}

	resp, err := c.http.Do(httpReq)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readAPIError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s response: %w", req.method, req.path, err)
	}
	return nil
}

// readAPIError turns an error response into an *APIError. A body that is
// not the registry's JSON error becomes the message as text.
func readAPIError(resp *http.Response) *APIError {
	apiErr := &APIError{Status: resp.StatusCode}
	if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && seconds > 0 {
		apiErr.RetryAfter = time.Duration(seconds) * time.Second
	}

	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error     string `json:"error"`
		ErrorCode string `json:"error_code"`
	}
	if err := json.Unmarshal(data, &body); err == nil && body.Error != "" {
		apiErr.Code, apiErr.Message = body.ErrorCode, body.Error
		return apiErr
	}
	apiErr.Message = strings.TrimSpace(string(data))
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	return apiErr
}

// pathID escapes an id for a URL path, so that a malformed id reaches the
// registry as one path segment and is rejected there.
func pathID(id string) string {
	return url.PathEscape(id)
}
