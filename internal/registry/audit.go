package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/store"
)

// AuditRegistry appends one line to the registry audit, audit/YYYY-MM-DD.jsonl
// in the data directory, opening the log on first use. A failure is logged
// and counted, because the action it records has already happened.
func (r *Registry) AuditRegistry(record auditlog.RegistryRecord) {
	ops := r.ops()
	ops.auditMu.Lock()
	defer ops.auditMu.Unlock()

	err := r.openRegistryAudit(ops)
	if err == nil {
		err = ops.audit.Append(record)
	}
	if err != nil {
		r.Metrics.AuditFailures.WithLabelValues("registry").Inc()
		r.Logger.Error("registry audit append failed", "actor", record.Actor, "action", record.Action,
			"target", record.Target, "error", err)
	}
}

// openRegistryAudit opens the registry audit unless it is open. The caller
// holds ops.auditMu.
func (r *Registry) openRegistryAudit(ops *operations) error {
	if ops.audit != nil {
		return nil
	}
	l, err := auditlog.Open(RegistryAuditDir(r.Store), auditlog.Options{
		Now: r.Now,
		OnError: func(err error) {
			r.Metrics.AuditFailures.WithLabelValues("registry").Inc()
			r.Logger.Error("registry audit log sync failed", "error", err)
		},
	})
	if err != nil {
		return fmt.Errorf("open registry audit: %w", err)
	}
	ops.audit = l
	return nil
}

// CloseRegistryAudit fsyncs and closes the registry audit. A later
// AuditRegistry opens it again.
func (r *Registry) CloseRegistryAudit() error {
	ops := r.ops()
	ops.auditMu.Lock()
	defer ops.auditMu.Unlock()
	if ops.audit == nil {
		return nil
	}
	err := ops.audit.Close()
	ops.audit = nil
	return err
}

// RegistryAuditDir returns the directory of the registry audit's daily
// files.
func RegistryAuditDir(st *store.Store) string {
	return filepath.Join(st.Dir, store.AuditDir)
}

// ReadCapsuleLog returns the lines of a capsule's audit log that match f,
// oldest first. An invalid date or limit in f is CodeInvalidRequest.
func (r *Registry) ReadCapsuleLog(capsuleID string, f auditlog.Filter) ([]json.RawMessage, error) {
	if _, ok := r.Capsule(capsuleID); !ok {
		return nil, capsuleNotFound(capsuleID)
	}
	if f.Limit < 0 {
		return nil, newError(CodeInvalidRequest, "limit %d is negative; use a positive number", f.Limit)
	}
	entries, err := auditlog.Read(CapsuleLogDir(r.Store, capsuleID), f)
	if errors.Is(err, auditlog.ErrInvalidDate) {
		return nil, newError(CodeInvalidRequest, "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read audit log of %s: %w", capsuleID, err)
	}
	if entries == nil {
		entries = []json.RawMessage{}
	}
	return entries, nil
}
