package registry

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Lifetimes of an operator's dashboard session: it ends after SessionIdle
// without a request, and SessionMaxAge after it was created in any case.
const (
	SessionIdle   = 12 * time.Hour
	SessionMaxAge = 7 * 24 * time.Hour
)

// sessionTouchInterval coalesces the last_seen_at writes of a session, so
// that sessions.json is not rewritten on every request.
const sessionTouchInterval = time.Minute

// Session is a signed-in dashboard session.
type Session struct {
	// OperatorID is the operator, or "" for a break-glass session of the
	// admin key.
	OperatorID string
	// Actor is what the registry audit records: the operator id or
	// ActorAdminKey.
	Actor string
	// Role is the role the session was created with.
	Role  string
	Email string
	// CSRFToken is the token that every state-changing request of the
	// session must carry.
	CSRFToken  string
	BreakGlass bool
	ExpiresAt  time.Time
}

// NewSession is a created operator session with its cookie value, which
// is stored only as its SHA-256.
type NewSession struct {
	Session
	CookieValue string
}

// CSRFToken derives the CSRF token of a session from its cookie value. The
// cookie is HttpOnly, so a page of another origin can neither read it nor
// compute the token.
func CSRFToken(cookieValue string) string {
	mac := hmac.New(sha256.New, []byte(cookieValue))
	mac.Write([]byte("capsol dashboard csrf v1"))
	return hex.EncodeToString(mac.Sum(nil))
}

// CreateSession starts a dashboard session for an operator with the
// operator's current role.
func (r *Registry) CreateSession(operatorID string) (NewSession, error) {
	op, err := r.GetOperator(operatorID)
	if err != nil {
		return NewSession{}, err
	}
	if op.Status != OperatorActive {
		return NewSession{}, operatorDisabled(operatorID, op.Email)
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return NewSession{}, err
	}
	cookie := hex.EncodeToString(raw)
	csrf := CSRFToken(cookie)
	now := r.Now()
	record := store.Session{
		IDHash: secret.Hash(cookie), OperatorID: operatorID, Role: op.Role, CSRFHash: secret.Hash(csrf),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionMaxAge),
	}
	err = r.Store.Sessions.Update(func(doc *store.SessionsDoc) error {
		doc.Sessions = append(doc.Sessions, record)
		return nil
	})
	if err != nil {
		return NewSession{}, err
	}
	r.Logger.Info("dashboard session created", "operator_id", operatorID, "role", op.Role)
	return NewSession{
		CookieValue: cookie,
		Session: Session{OperatorID: operatorID, Actor: operatorID, Role: op.Role, Email: op.Email,
			CSRFToken: csrf, ExpiresAt: record.ExpiresAt},
	}, nil
}

// LookupSession returns the operator session whose cookie value is
// cookieValue. A session that is unknown, idle for SessionIdle, past its
// maximum age, or of an operator who is disabled or gone is not found,
// and an ended session is deleted.
func (r *Registry) LookupSession(cookieValue string) (Session, bool) {
	if cookieValue == "" {
		return Session{}, false
	}
	hash := secret.Hash(cookieValue)
	now := r.Now()
	var record store.Session
	found := false
	for _, s := range r.Store.Sessions.Get().Sessions {
		if secret.Equal(s.IDHash, hash) {
			record, found = s, true
			break
		}
	}
	if !found {
		return Session{}, false
	}

	op, err := r.GetOperator(record.OperatorID)
	ended := err != nil || op.Status != OperatorActive ||
		!now.Before(record.ExpiresAt) || now.Sub(record.LastSeenAt) >= SessionIdle
	if ended {
		if err := r.deleteSessions(func(s store.Session) bool { return s.IDHash == hash }); err != nil {
			r.Logger.Error("cannot delete an ended dashboard session", "operator_id", record.OperatorID, "error", err)
		}
		return Session{}, false
	}

	csrf := CSRFToken(cookieValue)
	if !secret.Equal(secret.Hash(csrf), record.CSRFHash) {
		r.Logger.Error("dashboard session has a CSRF hash that does not match its id; ending it", "operator_id", record.OperatorID)
		_ = r.deleteSessions(func(s store.Session) bool { return s.IDHash == hash })
		return Session{}, false
	}

	if now.Sub(record.LastSeenAt) >= sessionTouchInterval {
		r.touchSession(hash, now)
	}
	role := record.Role
	if role == "" {
		role = op.Role
	}
	return Session{OperatorID: op.ID, Actor: op.ID, Role: role, Email: op.Email, CSRFToken: csrf, ExpiresAt: record.ExpiresAt}, true
}

// touchSession records a request of a session. A failed write is logged:
// at worst the session ends early as idle.
func (r *Registry) touchSession(hash string, now time.Time) {
	err := r.Store.Sessions.Update(func(doc *store.SessionsDoc) error {
		for i := range doc.Sessions {
			if doc.Sessions[i].IDHash == hash {
				doc.Sessions[i].LastSeenAt = now
				return nil
			}
		}
		return errUnchanged
	})
	if err = ignoreUnchanged(err); err != nil {
		r.Logger.Error("cannot record the last request of a dashboard session", "error", err)
	}
}

// DeleteSession ends the operator session whose cookie value is
// cookieValue, as signing out does. An unknown value changes nothing.
func (r *Registry) DeleteSession(cookieValue string) error {
	hash := secret.Hash(cookieValue)
	return r.deleteSessions(func(s store.Session) bool { return s.IDHash == hash })
}

// EndOperatorSessions deletes every session of an operator and returns how
// many it deleted.
func (r *Registry) EndOperatorSessions(operatorID string) (int, error) {
	count := 0
	for _, s := range r.Store.Sessions.Get().Sessions {
		if s.OperatorID == operatorID {
			count++
		}
	}
	if count == 0 {
		return 0, nil
	}
	return count, r.deleteSessions(func(s store.Session) bool { return s.OperatorID == operatorID })
}

func (r *Registry) deleteSessions(match func(store.Session) bool) error {
	err := r.Store.Sessions.Update(func(doc *store.SessionsDoc) error {
		kept := doc.Sessions[:0]
		for _, s := range doc.Sessions {
			if !match(s) {
				kept = append(kept, s)
			}
		}
		if len(kept) == len(doc.Sessions) {
			return errUnchanged
		}
		doc.Sessions = kept
		return nil
	})
	return ignoreUnchanged(err)
}

// PruneSessions removes the sessions that are idle for SessionIdle or past
// their maximum age, and returns how many it removed.
func (r *Registry) PruneSessions(now time.Time) (int, error) {
	removed := 0
	for _, s := range r.Store.Sessions.Get().Sessions {
		if sessionEnded(s, now) {
			removed++
		}
	}
	if removed == 0 {
		return 0, nil
	}
	return removed, r.deleteSessions(func(s store.Session) bool { return sessionEnded(s, now) })
}

func sessionEnded(s store.Session, now time.Time) bool {
	return (!s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)) || now.Sub(s.LastSeenAt) >= SessionIdle
}
