package registry

import (
	"errors"
	"fmt"
)

// Codes of the errors that operations return for a request that cannot be
// carried out. The HTTP layer maps each to its status and sends the code as
// error_code unchanged.
const (
	CodeInvalidRequest = "invalid_request"
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeConflict       = "conflict"
	CodeInvalidToken   = "invalid_token"
	CodeRateLimited    = "rate_limited"
)

// Error is a request that an operation rejected without changing anything.
// Message is a sentence for the caller that names the value and the fix.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func capsuleNotFound(id string) *Error {
	return newError(CodeNotFound, "capsule %s not found; list capsules with GET /v1/capsules", id)
}

// errUnchanged ends an index Update without writing when nothing changed.
var errUnchanged = errors.New("unchanged")

// ignoreUnchanged turns errUnchanged into nil.
func ignoreUnchanged(err error) error {
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}
