// Package bootfail describes why the daemon could not start: a stable code,
// the error and a remediation that holds the exact command to fix it. The
// daemon prints one such JSON object on stderr and exits with ExitCode.
package bootfail

import (
	"encoding/json"
	"io"
	"strings"
)

// ExitCode is EX_CONFIG from sysexits.h: the daemon refused its
// configuration or environment.
const ExitCode = 78

// Boot failure codes.
const (
	SecretKeyRequired   = "secret_key_required"
	SecretKeyUnreadable = "secret_key_unreadable"
	HomeNotWritable     = "home_not_writable"
	DataDirNotWritable  = "data_dir_not_writable"
	DataDirLocked       = "data_dir_locked"
	PortInUse           = "port_in_use"
	CorruptIndex        = "corrupt_index"
	SchemaTooNew        = "schema_too_new"
	MigrationFailed     = "migration_failed"
	AdminKeyTooShort    = "admin_key_too_short"
	InvalidConfig       = "invalid_config"
)

// Error is a boot failure.
type Error struct {
	Code        string `json:"code"`
	Message     string `json:"error"`
	Remediation string `json:"remediation"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns a boot failure.
func New(code, message, remediation string) *Error {
	return &Error{Code: code, Message: message, Remediation: remediation}
}

// Write prints the failure as one JSON object on one line.
func Write(w io.Writer, e *Error) error {
	line := struct {
		Level string `json:"level"`
		*Error
	}{Level: "fatal", Error: e}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(line)
}

// ShellQuote quotes a path for a POSIX shell when it contains characters
// other than letters, digits and "/._-+:@", so that a remediation command
// can be pasted into a shell as written.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
