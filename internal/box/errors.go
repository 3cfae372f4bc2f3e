package box

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error codes of rejected requests. MCP tool errors carry them unchanged, so
// callers and agents may compare them as fixed strings.
const (
	CodeNotFound        = "not_found"
	CodeVersionConflict = "version_conflict"
	CodeInvalidURI      = "invalid_uri"
	CodeTooLarge        = "too_large"
	CodeInvalidRequest  = "invalid_request"
)

// Error is a rejected request. A rejected request changes nothing in the box.
// Message is a sentence for the caller that names the bad value and the fix.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, box.ErrNotFound) matches every not_found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is, one per code.
var (
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "not found"}
	ErrVersionConflict = &Error{Code: CodeVersionConflict, Message: "version conflict"}
	ErrInvalidURI      = &Error{Code: CodeInvalidURI, Message: "invalid URI"}
	ErrTooLarge        = &Error{Code: CodeTooLarge, Message: "too large"}
	ErrInvalidRequest  = &Error{Code: CodeInvalidRequest, Message: "invalid request"}
)

// ErrCorrupt marks a file in the box that cannot be parsed or does not match
// its name. Open and the read methods wrap it with the file's path. The box
// never rewrites or deletes such a file.
var ErrCorrupt = errors.New("corrupt file")

// ErrorCode returns the code of the *Error in err's chain, or "" when err is
// nil or is not a rejected request (an I/O failure, for example).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newError(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// maxQuotedBytes bounds how much of a bad value an error message repeats, so
// that a 16 MiB argument does not come back in the message.
const maxQuotedBytes = 100

// quote returns s in Go double-quoted form, cut to maxQuotedBytes, so that
// control characters and NUL bytes show as escapes.
func quote(s string) string {
	if len(s) <= maxQuotedBytes {
		return fmt.Sprintf("%q", s)
	}
	cut := maxQuotedBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
