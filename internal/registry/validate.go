package registry

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

// MaxNameBytes is the longest capsule name or connection label accepted.
const MaxNameBytes = 200

// knownRoles are the roles an agent credential can carry at all.
var knownRoles = []string{store.RoleReader, store.RoleWriter}

// checkRole rejects a role that is unknown or that policy.json does not
// allow in allowed_roles.
func (r *Registry) checkRole(role string) error {
	if !slices.Contains(knownRoles, role) {
		return newError(CodeInvalidRequest, "role %q is invalid; use %q or %q", role, store.RoleReader, store.RoleWriter)
	}
	allowed := r.Store.Policy.Get().AllowedRoles
	if !slices.Contains(allowed, role) {
		return newError(CodeForbidden,
			"role %q is not in the policy's allowed_roles %q; use an allowed role or change allowed_roles with PUT /v1/policy",
			role, allowed)
	}
	return nil
}

// cleanText trims text and checks that it is valid UTF-8 of at most
// MaxNameBytes bytes without control characters. field names the value in
// the error message.
func cleanText(field, text string, required bool) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "" && required:
		return "", newError(CodeInvalidRequest, "%s is missing; send a non-empty %s", field, field)
	case !utf8.ValidString(text):
		return "", newError(CodeInvalidRequest, "%s is not valid UTF-8; send it as UTF-8 text", field)
	case len(text) > MaxNameBytes:
		return "", newError(CodeInvalidRequest, "%s is %d bytes long; use at most %d bytes", field, len(text), MaxNameBytes)
	case strings.ContainsFunc(text, unicode.IsControl):
		return "", newError(CodeInvalidRequest, "%s %q contains control characters; use printable text", field, text)
	}
	return text, nil
}

// checkOwner rejects an owner id that is not the id of an operator, and
// a disabled operator as a conflict.
func (r *Registry) checkOwner(ownerID string) error {
	if !ids.Valid(ids.Operator, ownerID) {
		return newError(CodeInvalidRequest, "owner_id %q is not an operator id (op_ followed by 26 characters); list operators with GET /v1/operators", ownerID)
	}
	for _, p := range r.Store.Principals.Get().Principals {
		if p.ID != ownerID || p.Kind != store.PrincipalOperator {
			continue
		}
		if op := operatorOf(p); op.Status == OperatorDisabled {
			return newError(CodeConflict,
				"operator %s (%s) is disabled and cannot own a capsule; enable them first with capsol operators enable %s, or pick another owner",
				op.ID, op.Email, op.ID)
		}
		return nil
	}
	return newError(CodeInvalidRequest, "owner_id %s is not an operator of this registry; list operators with GET /v1/operators", ownerID)
}
