package dashboard

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

type connectionsData struct {
	Connections []registry.Connection
	Capsules    map[string]string
	CapsuleList []registry.CapsuleInfo
	Filter      registry.ConnectionFilter
	Statuses    []string
}

// confirmData fills the confirmation page of a destructive action: a
// summary of what it touches and one form that carries it out.
type confirmData struct {
	Action  string
	Back    string
	Heading string
	Button  string
	Danger  bool
	Facts   [][2]string
	Explain string
	// Fields are hidden form fields besides the CSRF token.
	Fields map[string]string
}

// capsuleNames maps capsule ids to names.
func (d *Dashboard) capsuleNames() map[string]string {
	names := map[string]string{}
	for _, c := range d.Registry.Store.Capsules.Get().Capsules {
		names[c.ID] = c.Name
	}
	return names
}

func (d *Dashboard) connectionsPage(c *gin.Context) {
	filter := registry.ConnectionFilter{Status: c.Query("status"), Label: c.Query("label")}
	if capsuleID := c.Query("capsule_id"); ids.Valid(ids.Capsule, capsuleID) {
		filter.CapsuleID = capsuleID
	}
	connections, err := d.Registry.ListConnections(filter)
	if err != nil {
		d.failure(c, err)
		return
	}
	data := connectionsData{
		Connections: connections, Capsules: d.capsuleNames(), CapsuleList: d.Registry.ListCapsules("", ""),
		Filter: filter, Statuses: []string{store.StatusActive, store.StatusPaused, store.StatusRevoked},
	}
	d.render(c, http.StatusOK, "connections", d.newView(c, "connections", "Connections", data))
}

// connection returns the connection of the :id route parameter.
func (d *Dashboard) connection(c *gin.Context) (registry.Connection, bool) {
	id := c.Param("id")
	if ids.Valid(ids.Connection, id) {
		connections, err := d.Registry.ListConnections(registry.ConnectionFilter{})
		if err != nil {
			d.failure(c, err)
			return registry.Connection{}, false
		}
		for _, conn := range connections {
			if conn.ConnectionID == id {
				return conn, true
			}
		}
	}
	d.renderError(c, http.StatusNotFound, "not_found", "Connection not found",
		"No connection has the id "+strconv.Quote(id)+". It may belong to a capsule that expired.")
	return registry.Connection{}, false
}

// statusVerbs names the action of each target status on buttons and pages.
var statusVerbs = map[string]string{
	store.StatusActive:  "Resume",
	store.StatusPaused:  "Pause",
	store.StatusRevoked: "Revoke",
}

// confirmConnection is the confirmation step of pausing, resuming or
// revoking a connection.
func (d *Dashboard) confirmConnection(c *gin.Context) {
	conn, ok := d.connection(c)
	if !ok {
		return
	}
	status := c.Query("status")
	verb, known := statusVerbs[status]
	if !known {
		d.renderError(c, http.StatusBadRequest, "invalid_request", "Unknown action",
			"status must be active, paused or revoked.")
		return
	}
	explain := map[string]string{
		store.StatusRevoked: "Revoking is final: the agent's next request, even on an open MCP session, gets 401 token_revoked. To give the agent access again, create a new share or enrollment.",
		store.StatusPaused:  "The agent's next request gets 401 connection_paused until you resume the connection. Open MCP streams close at once.",
		store.StatusActive:  "The agent can use its credential again from its next request on.",
	}[status]
	data := confirmData{
		Action: "/dashboard/connections/" + conn.ConnectionID + "/status", Back: "/dashboard/connections",
		Heading: verb + " connection " + conn.Label + "?", Button: verb + " connection", Danger: status == store.StatusRevoked,
		Facts: [][2]string{
			{"Label", conn.Label}, {"Connection", conn.ConnectionID}, {"Capsule", d.capsuleNames()[conn.CapsuleID] + " (" + conn.CapsuleID + ")"},
			{"Kind", conn.Kind}, {"Role", conn.Role}, {"Status", conn.Status}, {"Last used", ago(conn.LastUsedAt)},
		},
		Explain: explain,
		Fields:  map[string]string{"status": status},
	}
	d.render(c, http.StatusOK, "confirm", d.newView(c, "connections", verb+" connection", data))
}

// setConnectionStatus pauses, resumes or revokes a connection. Approvers
// and admins may do it.
func (d *Dashboard) setConnectionStatus(c *gin.Context) {
	id := c.Param("id")
	if !ids.Valid(ids.Connection, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Connection not found", "No connection has the id "+strconv.Quote(id)+".")
		return
	}
	status := c.PostForm("status")
	conn, err := d.Registry.SetShareStatus(id, status)
	if err != nil {
		d.failure(c, err)
		return
	}
	action := map[string]string{
		store.StatusActive: "connection.resume", store.StatusPaused: "connection.pause", store.StatusRevoked: "connection.revoke",
	}[status]
	d.audit(c, action, id, map[string]any{"capsule_id": conn.CapsuleID})
	redirect(c, "/dashboard/connections", status)
}

type approvalsData struct {
	Pending  []pendingRequest
	Approved []registry.Grant
	Capsules map[string]string
}

// pendingRequest is a pending grant with the OAuth client id and redirect
// URI of its authorization request, which tell apart two requests of
// clients with the same name.
type pendingRequest struct {
	registry.Grant
	ClientID    string
	RedirectURI string
}

// pendingRequests adds the stored request details to pending grants.
func (d *Dashboard) pendingRequests(grants []registry.Grant) []pendingRequest {
	records := map[string]store.Grant{}
	for _, g := range d.Registry.Store.Grants.Get().Grants {
		records[g.ID] = g
	}
	requests := make([]pendingRequest, 0, len(grants))
	for _, g := range grants {
		record := records[g.ID]
		requests = append(requests, pendingRequest{Grant: g, ClientID: record.ClientID, RedirectURI: record.RedirectURI})
	}
	return requests
}

func (d *Dashboard) approvalsPage(c *gin.Context) {
	pending, err := d.Registry.ListGrants(registry.GrantFilter{Status: store.StatusPending})
	if err != nil {
		d.failure(c, err)
		return
	}
	approved, err := d.Registry.ListGrants(registry.GrantFilter{Status: store.StatusApproved})
	if err != nil {
		d.failure(c, err)
		return
	}
	data := approvalsData{Pending: d.pendingRequests(pending), Approved: approved, Capsules: d.capsuleNames()}
	d.render(c, http.StatusOK, "approvals", d.newView(c, "approvals", "Approvals", data))
}

func (d *Dashboard) grantID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !ids.Valid(ids.Grant, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Request not found", "No access request has the id "+strconv.Quote(id)+".")
		return "", false
	}
	return id, true
}

func (d *Dashboard) approveGrant(c *gin.Context) {
	id, ok := d.grantID(c)
	if !ok {
		return
	}
	grant, err := d.Registry.ApproveGrant(id, sessionOf(c).Actor)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "grant.approve", id, map[string]any{"capsule_id": grant.CapsuleID, "role": grant.Role})
	redirect(c, "/dashboard/approvals", "grant-approved")
}

// denyGrant revokes a grant: a pending one is denied, an approved one
// loses its access.
func (d *Dashboard) denyGrant(c *gin.Context) {
	id, ok := d.grantID(c)
	if !ok {
		return
	}
	before, _ := d.Registry.GrantRecord(id)
	grant, err := d.Registry.RevokeGrant(id, sessionOf(c).Actor)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "grant.revoke", id, map[string]any{"capsule_id": grant.CapsuleID})
	notice := "grant-revoked"
	if before.Status == store.StatusPending {
		notice = "grant-denied"
	}
	redirect(c, "/dashboard/approvals", notice)
}

// confirmGrant is the confirmation step of revoking an approved grant.
func (d *Dashboard) confirmGrant(c *gin.Context) {
	id, ok := d.grantID(c)
	if !ok {
		return
	}
	grant, found := d.Registry.GrantRecord(id)
	if !found {
		d.renderError(c, http.StatusNotFound, "not_found", "Request not found", "No access request has the id "+strconv.Quote(id)+".")
		return
	}
	data := confirmData{
		Action: "/dashboard/grants/" + id + "/deny", Back: "/dashboard/approvals",
		Heading: "Revoke the access of " + grant.ClientName + "?", Button: "Revoke grant", Danger: true,
		Facts: [][2]string{
			{"Client", grant.ClientName}, {"Capsule", d.capsuleNames()[grant.CapsuleID] + " (" + grant.CapsuleID + ")"},
			{"Access", grant.Role}, {"Status", grant.Status}, {"Approved by", deref(grant.ApprovedBy)},
		},
		Explain: "Every token issued under this grant is refused with 401 grant_revoked from its next request on. The client must ask for access again.",
	}
	d.render(c, http.StatusOK, "confirm", d.newView(c, "approvals", "Revoke grant", data))
}
