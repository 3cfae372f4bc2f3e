package dashboard

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
)

// activityLimit is how many entries of each log the Activity page shows.
const activityLimit = 200

type registryEntry struct {
	TS         time.Time      `json:"ts"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	Target     string         `json:"target"`
	Details    map[string]any `json:"details"`
	RemoteAddr string         `json:"remote_addr"`
}

type capsuleEntry struct {
	TS           time.Time `json:"ts"`
	ConnectionID string    `json:"connection_id"`
	Kind         string    `json:"kind"`
	Method       string    `json:"method"`
	Tool         string    `json:"tool"`
	URI          string    `json:"uri"`
	Outcome      string    `json:"outcome"`
	ErrorCode    string    `json:"error_code"`
	DurationMS   int64     `json:"duration_ms"`
	RemoteAddr   string    `json:"remote_addr"`
}

type activityData struct {
	Date         string
	Actor        string
	CapsuleID    string
	ConnectionID string
	Registry     []registryEntry
	RegistryErr  string
	Capsule      []capsuleEntry
	CapsuleErr   string
	Capsules     []registry.CapsuleInfo
	Names        map[string]string
	Labels       map[string]string
}

// activityPage shows the registry audit and, for a chosen capsule, its
// audit log: newest first, filtered by UTC day, actor and connection.
func (d *Dashboard) activityPage(c *gin.Context) {
	data := activityData{
		Date: c.Query("date"), Actor: c.Query("actor"), Capsules: d.Registry.ListCapsules("", ""), Labels: map[string]string{},
	}
	_, data.Names = d.ownerNames()
	if id := c.Query("capsule_id"); ids.Valid(ids.Capsule, id) {
		data.CapsuleID = id
	}
	if id := c.Query("connection_id"); ids.Valid(ids.Connection, id) {
		data.ConnectionID = id
	}
	for _, sh := range d.Registry.Store.Shares.Get().Shares {
		data.Labels[sh.ConnectionID] = sh.Label
	}

	lines, err := d.Registry.ReadRegistryAudit(auditlog.Filter{Date: data.Date, Actor: data.Actor, Limit: activityLimit})
	if err != nil {
		data.RegistryErr = err.Error()
	}
	data.Registry = decodeNewestFirst[registryEntry](lines)

	if data.CapsuleID != "" {
		lines, err := d.Registry.ReadCapsuleLog(data.CapsuleID, auditlog.Filter{
			Date: data.Date, ConnectionID: data.ConnectionID, Limit: activityLimit,
		})
		if err != nil {
			data.CapsuleErr = err.Error()
		}
		data.Capsule = decodeNewestFirst[capsuleEntry](lines)
	}
	d.render(c, http.StatusOK, "activity", d.newView(c, "activity", "Activity", data))
}

// decodeNewestFirst decodes audit lines, skipping any that do not decode,
// and reverses them so the newest comes first.
func decodeNewestFirst[T any](lines []json.RawMessage) []T {
	entries := make([]T, 0, len(lines))
	for _, line := range lines {
		var entry T
		if json.Unmarshal(line, &entry) == nil {
			entries = append(entries, entry)
		}
	}
	slices.Reverse(entries)
	return entries
}
