package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/capsol/capsol/pkg/client"
)

// Classify returns err as an *ExitError with the exit status of the
// capsol command, so every command maps errors the same way:
//
//   - an *ExitError keeps its code;
//   - an API error of status 401 or 403 is ExitAuth, 404 is ExitNotFound,
//     and any other status is ExitFailure;
//   - a request that found no daemon (connection refused, no such host,
//     a time-out) is ExitUnreachable;
//   - anything else is ExitFailure.
//
// The messages of API and connection errors gain the step that fixes
// them. A nil err returns nil.
func Classify(err error) *ExitError {
	if err == nil {
		return nil
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		return exitErr
	}

	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.Status {
		case http.StatusUnauthorized:
			return &ExitError{Code: ExitAuth, Err: fmt.Errorf("%w; pass the daemon's admin key with --key, CAPSOL_ADMIN_KEY or $CAPSOL_HOME/admin.key", err)}
		case http.StatusForbidden:
			// The admin key was accepted; the registry's policy or the
			// caller's role refused the action, and the message names which.
			return &ExitError{Code: ExitAuth, Err: err}
		case http.StatusNotFound:
			return &ExitError{Code: ExitNotFound, Err: err}
		}
		return &ExitError{Code: ExitFailure, Err: err}
	}

	if address, ok := unreachableAddress(err); ok {
		return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("cannot reach the daemon at %s: %w; start it (capsol serve), or point --server or CAPSOL_URL at it", address, err)}
	}
	return &ExitError{Code: ExitFailure, Err: err}
}

// unreachableAddress reports whether err means that no daemon responded,
// and the address that was tried.
func unreachableAddress(err error) (string, bool) {
	var urlErr *url.Error
	address := "the server"
	if errors.As(err, &urlErr) {
		if u, parseErr := url.Parse(urlErr.URL); parseErr == nil && u.Host != "" {
			address = u.Scheme + "://" + u.Host
		}
	}

	var opErr *net.OpError
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return address, true
	case errors.As(err, &dnsErr):
		return address, true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return address, true
	case errors.Is(err, context.DeadlineExceeded):
		return address, true
	case errors.As(err, &netErr) && netErr.Timeout():
		return address, true
	}
	return "", false
}
