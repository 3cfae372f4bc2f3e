package registry

import (
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/store"
)

// Operator roles. An admin may do everything, an approver may also approve
// and deny grants and pause, resume and revoke connections, and a viewer
// may only read.
const (
	OperatorAdmin    = "admin"
	OperatorApprover = "approver"
	OperatorViewer   = "viewer"
)

// Operator statuses. A disabled operator cannot sign in, and their open
// sessions end on their next request.
const (
	OperatorActive   = "active"
	OperatorDisabled = "disabled"
)

// CodeOperatorDisabled is the error code of a sign-in or invite of a
// disabled operator.
const CodeOperatorDisabled = "operator_disabled"

// OperatorRoles lists the operator roles from most to least privileged.
var OperatorRoles = []string{OperatorAdmin, OperatorApprover, OperatorViewer}

// MaxEmailBytes is the longest operator email address accepted.
const MaxEmailBytes = 254

// Operator is an operator as GET /v1/operators shows it.
type Operator struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// OperatorUpdate lists the changes of UpdateOperator. Nil fields leave the
// operator as it is.
type OperatorUpdate struct {
	Role   *string
	Status *string
}

func operatorOf(p store.Principal) Operator {
	op := Operator{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastLoginAt: p.LastLoginAt,
		Role: OperatorViewer, Status: OperatorActive}
	if p.Email != nil {
		op.Email = *p.Email
	}
	if p.Role != nil {
		op.Role = *p.Role
	}
	if p.Status != nil {
		op.Status = *p.Status
	}
	return op
}

// RoleAllows reports whether an operator role includes the rights of the
// role need: admin includes approver, and approver includes viewer.
func RoleAllows(role, need string) bool {
	have := slices.Index(OperatorRoles, role)
	want := slices.Index(OperatorRoles, need)
	return have >= 0 && want >= 0 && have <= want
}

// checkOperatorRole rejects a role that is not admin, approver or viewer.
func checkOperatorRole(role string) error {
	if slices.Contains(OperatorRoles, role) {
		return nil
	}
	return newError(CodeInvalidRequest, "role %q is not an operator role; use %q, %q or %q",
		role, OperatorAdmin, OperatorApprover, OperatorViewer)
}

// normalizeEmail checks an email address and returns it in lower case, the
// form in which operators and invites are stored and compared.
func normalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", newError(CodeInvalidRequest, "email is missing; send the operator's email address, such as ada@example.com")
	}
	if len(email) > MaxEmailBytes {
		return "", newError(CodeInvalidRequest, "email is %d bytes long; use at most %d bytes", len(email), MaxEmailBytes)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", newError(CodeInvalidRequest, "email %q is not a plain email address; send it as name@example.com, without a display name", email)
	}
	return strings.ToLower(email), nil
}

// ListOperators returns the operators, oldest first.
func (r *Registry) ListOperators() []Operator {
	list := []Operator{}
	for _, p := range r.Store.Principals.Get().Principals {
		if p.Kind == store.PrincipalOperator {
			list = append(list, operatorOf(p))
		}
	}
	return list
}

// GetOperator returns the operator with id.
func (r *Registry) GetOperator(id string) (Operator, error) {
	for _, p := range r.Store.Principals.Get().Principals {
		if p.ID == id && p.Kind == store.PrincipalOperator {
			return operatorOf(p), nil
		}
	}
	return Operator{}, operatorNotFound(id)
}

// OperatorByEmail returns the operator whose email is email, ignoring case.
func (r *Registry) OperatorByEmail(email string) (Operator, bool) {
	email = strings.ToLower(strings.TrimSpace(email))
	for _, p := range r.Store.Principals.Get().Principals {
		if p.Kind == store.PrincipalOperator && p.Email != nil && *p.Email == email {
			return operatorOf(p), true
		}
	}
	return Operator{}, false
}

func operatorDisabled(id, email string) *Error {
	return newError(CodeOperatorDisabled, "operator %s (%s) is disabled; ask an admin to enable the account", id, email)
}

func operatorNotFound(id string) *Error {
	return newError(CodeNotFound, "operator %s not found; list operators with GET /v1/operators", id)
}

// CreateOperator adds an active operator. An email that already belongs to
// an operator is a conflict.
func (r *Registry) CreateOperator(email, role string) (Operator, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return Operator{}, err
	}
	if err := checkOperatorRole(role); err != nil {
		return Operator{}, err
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()
	return r.addOperator(email, email, role)
}

// addOperator writes a new operator record. The caller holds ops.mutations
// and has checked email and role.
func (r *Registry) addOperator(email, name, role string) (Operator, error) {
	status := OperatorActive
	p := store.Principal{
		ID: ids.New(ids.Operator), Kind: store.PrincipalOperator, Name: name,
		Email: &email, Role: &role, Status: &status, CreatedAt: r.Now(),
	}
	err := r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		for _, existing := range doc.Principals {
			if existing.Kind == store.PrincipalOperator && existing.Email != nil && *existing.Email == email {
				return newError(CodeConflict, "operator %s already has the email %s; change its role or status with PATCH /v1/operators/%s",
					existing.ID, email, existing.ID)
			}
		}
		doc.Principals = append(doc.Principals, p)
		return nil
	})
	if err != nil {
		return Operator{}, err
	}
	r.Logger.Info("operator created", "operator_id", p.ID, "role", role)
	return operatorOf(p), nil
}

// UpdateOperator changes an operator's role or status. A new role applies
// from the operator's next sign-in, because sessions keep the role they
// were created with. Disabling an operator deletes their sessions, and
// LookupSession refuses any session of a disabled operator in any case.
func (r *Registry) UpdateOperator(id string, update OperatorUpdate) (Operator, error) {
	if update.Role != nil {
		if err := checkOperatorRole(*update.Role); err != nil {
			return Operator{}, err
		}
	}
	if update.Status != nil && *update.Status != OperatorActive && *update.Status != OperatorDisabled {
		return Operator{}, newError(CodeInvalidRequest, "status %q is not an operator status; use %q or %q",
			*update.Status, OperatorActive, OperatorDisabled)
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	var updated store.Principal
	err := r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		for i := range doc.Principals {
			p := &doc.Principals[i]
			if p.ID != id || p.Kind != store.PrincipalOperator {
				continue
			}
			before := operatorOf(*p)
			if update.Role != nil {
				role := *update.Role
				p.Role = &role
			}
			if update.Status != nil {
				status := *update.Status
				p.Status = &status
			}
			updated = *p
			after := operatorOf(*p)
			if before.Role == after.Role && before.Status == after.Status {
				return errUnchanged
			}
			return nil
		}
		return operatorNotFound(id)
	})
	if err = ignoreUnchanged(err); err != nil {
		return Operator{}, err
	}

	op := operatorOf(updated)
	if op.Status == OperatorDisabled {
		if ended, err := r.EndOperatorSessions(id); err != nil {
			r.Logger.Error("cannot delete the sessions of a disabled operator; they are refused on their next request", "operator_id", id, "error", err)
		} else if ended > 0 {
			r.Logger.Info("sessions of disabled operator ended", "operator_id", id, "sessions", ended)
		}
	}
	r.Logger.Info("operator updated", "operator_id", id, "role", op.Role, "status", op.Status)
	return op, nil
}

// SignInOperator records a successful OIDC sign-in of the operator whose
// email is email and returns the operator. An unknown email is not_found
// and a disabled operator forbidden. name, when not empty, replaces the
// operator's display name.
func (r *Registry) SignInOperator(email, name string) (Operator, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	name = displayName(name)

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()
	return r.recordSignIn(email, name)
}

// recordSignIn sets last_login_at of the operator with email. The caller
// holds ops.mutations.
func (r *Registry) recordSignIn(email, name string) (Operator, error) {
	now := r.Now()
	var signedIn store.Principal
	err := r.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		for i := range doc.Principals {
			p := &doc.Principals[i]
			if p.Kind != store.PrincipalOperator || p.Email == nil || *p.Email != email {
				continue
			}
			if operatorOf(*p).Status == OperatorDisabled {
				return operatorDisabled(p.ID, email)
			}
			p.LastLoginAt = &now
			if name != "" {
				p.Name = name
			}
			signedIn = *p
			return nil
		}
		return newError(CodeNotFound, "%s is not an operator of this registry; ask an admin for an invite", email)
	})
	if err != nil {
		return Operator{}, err
	}
	return operatorOf(signedIn), nil
}

// displayName cleans a name from an identity provider, dropping it when it
// is not usable text.
func displayName(name string) string {
	cleaned, err := cleanText("name", name, false)
	if err != nil {
		return ""
	}
	return cleaned
}
