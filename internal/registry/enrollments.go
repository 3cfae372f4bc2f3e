package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Limits and defaults of enrollment tokens.
const (
	DefaultEnrollmentUses     = 1
	MaxEnrollmentUses         = 10000
	DefaultEnrollmentTTLHours = 24
	MaxEnrollmentTTLHours     = 24 * 365
)

// Enrollment statuses shown by ListEnrollments.
const (
	EnrollmentActive    = "active"
	EnrollmentExhausted = "exhausted"
	EnrollmentExpired   = "expired"
	EnrollmentRevoked   = "revoked"
)

// EnrollmentRequest holds the fields of a new enrollment token. Nil Uses
// and TTLHours take the defaults.
type EnrollmentRequest struct {
	Role     string
	Label    string
	Uses     *int
	TTLHours *int
}

// NewEnrollment is an enrollment token as its creator receives it. Token
// is shown only here and stored only as its SHA-256.
type NewEnrollment struct {
	EnrollmentID string    `json:"enrollment_id"`
	Token        string    `json:"token"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// EnrollmentInfo is an enrollment token as operators see it, without the
// token.
type EnrollmentInfo struct {
	EnrollmentID string     `json:"enrollment_id"`
	CapsuleID    string     `json:"capsule_id"`
	Role         string     `json:"role"`
	Label        string     `json:"label"`
	UsesLeft     int        `json:"uses_left"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

// Enrolled is the share that redeeming an enrollment token created.
type Enrolled struct {
	ConnectionID string `json:"connection_id"`
	CapsuleID    string `json:"capsule_id"`
	MCPURL       string `json:"mcp_url"`
	Credential   string `json:"credential"`
	Role         string `json:"role"`
}

// CreateEnrollment creates a capsol_enroll_… token that agents redeem with
// POST /enroll for a share of the capsule with role.
func (r *Registry) CreateEnrollment(capsuleID string, req EnrollmentRequest) (NewEnrollment, error) {
	if err := r.checkRole(req.Role); err != nil {
		return NewEnrollment{}, err
	}
	label, err := cleanText("label", req.Label, false)
	if err != nil {
		return NewEnrollment{}, err
	}
	uses, err := intInRange("uses", req.Uses, DefaultEnrollmentUses, MaxEnrollmentUses)
	if err != nil {
		return NewEnrollment{}, err
	}
	ttlHours, err := intInRange("ttl_hours", req.TTLHours, DefaultEnrollmentTTLHours, MaxEnrollmentTTLHours)
	if err != nil {
		return NewEnrollment{}, err
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	if _, err := r.liveCapsule(capsuleID); err != nil {
		return NewEnrollment{}, err
	}
	now := r.Now()
	expires := now.Add(time.Duration(ttlHours) * time.Hour)
	token := secret.NewToken(secret.PrefixEnroll)
	enrollment := store.Enrollment{
		ID:        ids.New(ids.Enrollment),
		CapsuleID: capsuleID,
		Role:      req.Role,
		Label:     label,
		TokenHash: secret.Hash(token),
		UsesLeft:  uses,
		CreatedAt: now,
		ExpiresAt: &expires,
	}
	err = r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		doc.Enrollments = append(doc.Enrollments, enrollment)
		return nil
	})
	if err != nil {
		return NewEnrollment{}, fmt.Errorf("create enrollment: %w", err)
	}
	r.Logger.Info("enrollment created", "capsule_id", capsuleID, "enrollment_id", enrollment.ID,
		"role", req.Role, "uses", uses, "expires_at", expires)
	return NewEnrollment{EnrollmentID: enrollment.ID, Token: token, ExpiresAt: expires}, nil
}

// ListEnrollments returns the enrollment tokens of a capsule, oldest first.
func (r *Registry) ListEnrollments(capsuleID string) ([]EnrollmentInfo, error) {
	if _, ok := r.Capsule(capsuleID); !ok {
		return nil, capsuleNotFound(capsuleID)
	}
	now := r.Now()
	list := []EnrollmentInfo{}
	for _, e := range r.Store.Enrollments.Get().Enrollments {
		if e.CapsuleID != capsuleID {
			continue
		}
		list = append(list, EnrollmentInfo{
			EnrollmentID: e.ID,
			CapsuleID:    e.CapsuleID,
			Role:         e.Role,
			Label:        e.Label,
			UsesLeft:     e.UsesLeft,
			Status:       enrollmentStatus(e, now),
			CreatedAt:    e.CreatedAt,
			ExpiresAt:    e.ExpiresAt,
			RevokedAt:    e.RevokedAt,
		})
	}
	return list, nil
}

// RevokeEnrollment makes an enrollment token unusable. Revoking it again
// changes nothing.
func (r *Registry) RevokeEnrollment(id string) error {
	now := r.Now()
	err := r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		for i := range doc.Enrollments {
			e := &doc.Enrollments[i]
			if e.ID != id {
				continue
			}
			if e.RevokedAt != nil {
				return errUnchanged
			}
			e.RevokedAt = &now
			return nil
		}
		return newError(CodeNotFound, "enrollment %s not found; list enrollments with GET /v1/capsules/<capsule-id>/enrollments", id)
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err == nil {
		r.Logger.Info("enrollment revoked", "enrollment_id", id)
	}
	return err
}

// Enroll redeems one use of an enrollment token for a new share of its
// capsule. label names the share; when empty, the enrollment's label is
// used. Every token that cannot be redeemed, whether unknown, revoked,
// expired or used up, is CodeInvalidToken.
func (r *Registry) Enroll(token, label string) (Enrolled, error) {
	if !secret.CheckToken(token, secret.PrefixEnroll) {
		return Enrolled{}, newError(CodeInvalidToken,
			"enrollment token is malformed or its checksum does not match; copy the capsol_enroll_… token again without changes")
	}
	label, err := cleanText("label", label, false)
	if err != nil {
		return Enrolled{}, err
	}

	ops := r.ops()
	ops.mutations.Lock()
	defer ops.mutations.Unlock()

	enrollment, err := r.consumeEnrollment(secret.Hash(token))
	if err != nil {
		return Enrolled{}, err
	}
	capsule, err := r.liveCapsule(enrollment.CapsuleID)
	if err == nil {
		err = r.checkRole(enrollment.Role)
	}
	if err != nil {
		r.refundEnrollment(enrollment.ID)
		var rejected *Error
		if errors.As(err, &rejected) {
			return Enrolled{}, newError(CodeInvalidToken, "enrollment token can no longer be redeemed: %s", rejected.Message)
		}
		return Enrolled{}, err
	}

	if label == "" {
		label = enrollment.Label
	}
	if label == "" {
		label = "enrolled via " + enrollment.ID
	}
	share, err := r.createShare(capsule, label, enrollment.Role)
	if err != nil {
		r.refundEnrollment(enrollment.ID)
		return Enrolled{}, err
	}
	r.Logger.Info("enrollment redeemed", "enrollment_id", enrollment.ID, "capsule_id", capsule.ID,
		"connection_id", share.ConnectionID, "uses_left", enrollment.UsesLeft)
	return Enrolled{
		ConnectionID: share.ConnectionID,
		CapsuleID:    capsule.ID,
		MCPURL:       share.MCPURL,
		Credential:   share.Credential,
		Role:         share.Role,
	}, nil
}

// consumeEnrollment takes one use of the enrollment whose token hash is
// hash and returns the enrollment after that. Check and decrement happen in
// one Update, so two agents cannot redeem the last use both.
func (r *Registry) consumeEnrollment(hash string) (store.Enrollment, error) {
	now := r.Now()
	var consumed store.Enrollment
	err := r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		for i := range doc.Enrollments {
			e := &doc.Enrollments[i]
			if !secret.Equal(e.TokenHash, hash) {
				continue
			}
			if status := enrollmentStatus(*e, now); status != EnrollmentActive {
				return newError(CodeInvalidToken, "enrollment token is %s; ask an operator for a new one", status)
			}
			e.UsesLeft--
			consumed = *e
			return nil
		}
		return newError(CodeInvalidToken, "enrollment token is unknown; ask an operator for a new one")
	})
	return consumed, err
}

// refundEnrollment gives back the use that a failed redemption took.
func (r *Registry) refundEnrollment(id string) {
	err := r.Store.Enrollments.Update(func(doc *store.EnrollmentsDoc) error {
		for i := range doc.Enrollments {
			if doc.Enrollments[i].ID == id {
				doc.Enrollments[i].UsesLeft++
				return nil
			}
		}
		return errUnchanged
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		r.Logger.Error("cannot give back the enrollment use of a failed redemption", "enrollment_id", id, "error", err)
	}
}

func enrollmentStatus(e store.Enrollment, now time.Time) string {
	switch {
	case e.RevokedAt != nil:
		return EnrollmentRevoked
	case e.ExpiresAt != nil && !now.Before(*e.ExpiresAt):
		return EnrollmentExpired
	case e.UsesLeft <= 0:
		return EnrollmentExhausted
	}
	return EnrollmentActive
}

// intInRange returns def for a nil value and otherwise checks that the
// value is between 1 and maxValue.
func intInRange(field string, value *int, def, maxValue int) (int, error) {
	if value == nil {
		return def, nil
	}
	if *value < 1 || *value > maxValue {
		return 0, newError(CodeInvalidRequest, "%s %d is out of range; use 1 to %d, or leave it out for %d", field, *value, maxValue, def)
	}
	return *value, nil
}
