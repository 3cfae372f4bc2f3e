package registry

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/capsol/capsol/internal/auditlog"
)

// ReadRegistryAudit returns the lines of the registry audit that match f,
// oldest first, each exactly as stored. An invalid date or a negative limit
// is CodeInvalidRequest.
func (r *Registry) ReadRegistryAudit(f auditlog.Filter) ([]json.RawMessage, error) {
	if f.Limit < 0 {
		return nil, newError(CodeInvalidRequest, "limit %d is negative; use a positive number", f.Limit)
	}
	entries, err := auditlog.Read(RegistryAuditDir(r.Store), f)
	if errors.Is(err, auditlog.ErrInvalidDate) {
		return nil, newError(CodeInvalidRequest, "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read registry audit: %w", err)
	}
	if entries == nil {
		entries = []json.RawMessage{}
	}
	return entries, nil
}
