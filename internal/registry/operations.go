package registry

import (
	"sync"

	"github.com/capsol/capsol/internal/auditlog"
)

// ActorAdminKey is the actor recorded in the registry audit for requests
// authenticated with the admin key.
const ActorAdminKey = "admin-key"

// operations is the state that the capsule, share, enrollment, usage and
// audit operations keep between calls.
type operations struct {
	// mutations serializes the operations that check a record in one index
	// file and then write another, such as creating a share only while its
	// capsule exists, so a concurrent delete cannot leave an active share on
	// a deleted capsule. Readers never take it. The connection and capsule
	// hooks run while it is held, so a hook must not call an operation that
	// takes it.
	mutations sync.Mutex

	usage usageTracker

	auditMu sync.Mutex
	audit   *auditlog.Log
}

func newOperations() *operations {
	return &operations{usage: newUsageTracker()}
}

func (r *Registry) ops() *operations { return r.operations }
