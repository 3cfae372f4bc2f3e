package auditlog

import (
	"errors"
	"fmt"
	"time"
)

// Outcomes of a capsule MCP request.
const (
	OutcomeOK     = "ok"
	OutcomeError  = "error"
	OutcomeDenied = "denied"
)

// ActionBreakGlass is the registry action recorded for every dashboard
// sign-in with the admin key.
const ActionBreakGlass = "break-glass"

// CapsuleRecord is one line of a capsule's log: one MCP request other than
// ping, or one refused authentication against the capsule. It never
// carries entry content, blob data or credentials.
//
// Every field is always written, empty when unknown (a refused
// authentication may have no connection), so that jq filters see the
// same keys on every line.
type CapsuleRecord struct {
	// TS is when the request started. Append sets it when zero.
	TS           time.Time `json:"ts,omitzero"`
	ConnectionID string    `json:"connection_id"`
	PrincipalID  string    `json:"principal_id"`
	// Kind is the connection kind: "share" or "oauth".
	Kind string `json:"kind"`
	// Method is the MCP method, such as "tools/call" or "resources/read".
	Method string `json:"method"`
	Tool   string `json:"tool"`
	URI    string `json:"uri"`
	// Outcome is OutcomeOK, OutcomeError or OutcomeDenied.
	Outcome    string `json:"outcome"`
	ErrorCode  string `json:"error_code"`
	DurationMS int64  `json:"duration_ms"`
	RemoteAddr string `json:"remote_addr"`
}

// Validate returns an error unless Outcome is one of the three outcomes.
func (r CapsuleRecord) Validate() error {
	switch r.Outcome {
	case OutcomeOK, OutcomeError, OutcomeDenied:
		return nil
	}
	return fmt.Errorf("invalid capsule audit outcome %q: expected %q, %q or %q",
		r.Outcome, OutcomeOK, OutcomeError, OutcomeDenied)
}

// RegistryRecord is one line of the registry audit: an operator or
// admin-key action, such as a mutating dashboard action or a break-glass
// sign-in.
type RegistryRecord struct {
	// TS is when the action happened. Append sets it when zero.
	TS time.Time `json:"ts,omitzero"`
	// Actor is who acted: an operator id, or the name the daemon uses for
	// the admin key.
	Actor string `json:"actor"`
	// Action names what was done, such as ActionBreakGlass.
	Action string `json:"action"`
	// Target is the id of the object acted on, empty when there is none.
	Target string `json:"target"`
	// Details contains action-specific fields, and never a secret.
	Details    map[string]any `json:"details,omitempty"`
	RemoteAddr string         `json:"remote_addr"`
}

// Validate returns an error when Action is empty.
func (r RegistryRecord) Validate() error {
	if r.Action == "" {
		return errors.New("registry audit record has no action")
	}
	return nil
}
