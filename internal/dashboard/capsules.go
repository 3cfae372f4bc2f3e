package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

type capsulesData struct {
	Capsules  []registry.CapsuleInfo
	Operators []registry.Operator
	Owners    map[string]string
	Query     string
	Owner     string
}

type capsuleData struct {
	Capsule     registry.CapsuleInfo
	Owner       string
	Operators   []registry.Operator
	Connections []registry.Connection
	Enrollments []registry.EnrollmentInfo
	Pending     int
	MCPURL      string
}

// createdSecret is a credential or token shown once, right after it was
// created.
type createdSecret struct {
	Kind      string
	CapsuleID string
	Capsule   string
	Secret    string
	Label     string
	Role      string
	MCPURL    string
	Expires   string
	Snippet   string
	Note      string
}

// ownerNames maps operator ids to their email, for owner columns.
func (d *Dashboard) ownerNames() ([]registry.Operator, map[string]string) {
	operators := d.Registry.ListOperators()
	names := map[string]string{}
	for _, op := range operators {
		names[op.ID] = op.Email
	}
	return operators, names
}

func (d *Dashboard) capsulesPage(c *gin.Context) {
	owner := c.Query("owner")
	if owner != "" && !ids.Valid(ids.Operator, owner) {
		owner = ""
	}
	operators, names := d.ownerNames()
	data := capsulesData{
		Capsules: d.Registry.ListCapsules(owner, c.Query("q")), Operators: operators, Owners: names,
		Query: c.Query("q"), Owner: owner,
	}
	d.render(c, http.StatusOK, "capsules", d.newView(c, "capsules", "Capsules", data))
}

// capsuleID returns the :id of a capsule route, or renders 404.
func (d *Dashboard) capsuleID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !ids.Valid(ids.Capsule, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Capsule not found", "No capsule has the id "+strconv.Quote(id)+".")
		return "", false
	}
	return id, true
}

func (d *Dashboard) capsulePage(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	capsule, err := d.Registry.GetCapsule(id)
	if err != nil {
		d.failure(c, err)
		return
	}
	connections, _ := d.Registry.ListConnections(registry.ConnectionFilter{CapsuleID: id})
	enrollments, err := d.Registry.ListEnrollments(id)
	if err != nil {
		d.failure(c, err)
		return
	}
	pending, _ := d.Registry.ListGrants(registry.GrantFilter{Status: store.StatusPending, CapsuleID: id})
	operators, names := d.ownerNames()
	data := capsuleData{
		Capsule: capsule, Operators: operators, Connections: connections, Enrollments: enrollments,
		Pending: len(pending), MCPURL: d.Registry.MCPURL(id),
	}
	if capsule.OwnerID != nil {
		data.Owner = names[*capsule.OwnerID]
		if data.Owner == "" {
			data.Owner = *capsule.OwnerID
		}
	}
	d.render(c, http.StatusOK, "capsule", d.newView(c, "capsules", capsule.Name, data))
}

func (d *Dashboard) createCapsule(c *gin.Context) {
	capsule, err := d.Registry.CreateCapsule(c.PostForm("name"), c.PostForm("owner_id"), false, 0)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "capsule.create", capsule.ID, map[string]any{"name": capsule.Name, "owner_id": capsule.OwnerID})
	redirect(c, "/dashboard/capsules/"+capsule.ID, "capsule-created")
}

// setOwner assigns the capsule to the operator in owner_id, or makes it
// unowned when owner_id is empty.
func (d *Dashboard) setOwner(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	owner := strings.TrimSpace(c.PostForm("owner_id"))
	capsule, err := d.Registry.UpdateCapsule(id, registry.CapsuleUpdate{SetOwner: true, OwnerID: owner})
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "capsule.update", id, map[string]any{"owner_id": capsule.OwnerID})
	redirect(c, "/dashboard/capsules/"+id, "owner-changed")
}

// claimCapsule makes the signed-in operator the owner. A break-glass
// session is no operator and assigns an owner with setOwner instead.
func (d *Dashboard) claimCapsule(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	session := sessionOf(c)
	if session.OperatorID == "" {
		d.renderError(c, http.StatusBadRequest, "invalid_request", "Cannot claim",
			"The admin key is not an operator, so it cannot own a capsule. Choose an owner in the owner form instead.")
		return
	}
	capsule, err := d.Registry.UpdateCapsule(id, registry.CapsuleUpdate{SetOwner: true, OwnerID: session.OperatorID})
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "capsule.update", id, map[string]any{"owner_id": capsule.OwnerID, "claim_ownership": true})
	redirect(c, "/dashboard/capsules/"+id, "claimed")
}

// createShare creates a share and shows its credential once.
func (d *Dashboard) createShare(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	share, err := d.Registry.CreateShare(id, c.PostForm("label"), c.PostForm("role"))
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "share.create", share.ConnectionID, map[string]any{"capsule_id": id, "label": share.Label, "role": share.Role})
	capsule, _ := d.Registry.Capsule(id)
	secret := createdSecret{
		Kind: "share", CapsuleID: id, Capsule: capsule.Name, Secret: share.Credential, Label: share.Label, Role: share.Role,
		MCPURL: share.MCPURL, Snippet: clientSnippet(capsule.Name, share.MCPURL, share.Credential),
	}
	d.render(c, http.StatusCreated, "secret", d.newView(c, "capsules", "Share created", secret))
}

// clientSnippet is an MCP client configuration for the share, in the
// "mcpServers" shape that common MCP clients read.
func clientSnippet(name, mcpURL, credential string) string {
	key := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return '-'
	}, name)
	if key == "" {
		key = "capsule"
	}
	return compactIndent(map[string]any{"mcpServers": map[string]any{key: map[string]any{
		"type": "http", "url": mcpURL, "headers": map[string]string{"Authorization": "Bearer " + credential},
	}}})
}

// createEnrollment creates an enrollment token and shows it once.
func (d *Dashboard) createEnrollment(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	req := registry.EnrollmentRequest{Role: c.PostForm("role"), Label: c.PostForm("label")}
	for field, target := range map[string]**int{"uses": &req.Uses, "ttl_hours": &req.TTLHours} {
		value := strings.TrimSpace(c.PostForm(field))
		if value == "" {
			continue
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			d.renderError(c, http.StatusBadRequest, "invalid_request", "That did not work",
				field+" "+strconv.Quote(value)+" is not a whole number; enter a number or leave the field empty for the default.")
			return
		}
		*target = &n
	}
	enrollment, err := d.Registry.CreateEnrollment(id, req)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "enrollment.create", enrollment.EnrollmentID, map[string]any{
		"capsule_id": id, "role": req.Role, "label": req.Label, "expires_at": enrollment.ExpiresAt,
	})
	capsule, _ := d.Registry.Capsule(id)
	secret := createdSecret{
		Kind: "enrollment", CapsuleID: id, Capsule: capsule.Name, Secret: enrollment.Token, Label: req.Label, Role: req.Role,
		Expires: formatTime(enrollment.ExpiresAt),
		Note:    "An agent redeems it with POST " + strings.TrimRight(d.Registry.BaseURL, "/") + "/enroll {\"token\": \"…\", \"label\": \"…\"}.",
	}
	d.render(c, http.StatusCreated, "secret", d.newView(c, "capsules", "Enrollment token created", secret))
}

func (d *Dashboard) revokeEnrollment(c *gin.Context) {
	id := c.Param("id")
	if !ids.Valid(ids.Enrollment, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Enrollment not found", "No enrollment token has the id "+strconv.Quote(id)+".")
		return
	}
	if err := d.Registry.RevokeEnrollment(id); err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "enrollment.revoke", id, nil)
	back := "/dashboard/capsules"
	if capsuleID := c.PostForm("capsule_id"); ids.Valid(ids.Capsule, capsuleID) {
		back += "/" + capsuleID
	}
	redirect(c, back, "enrollment-revoked")
}

func (d *Dashboard) confirmDeleteCapsule(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	capsule, err := d.Registry.GetCapsule(id)
	if err != nil {
		d.failure(c, err)
		return
	}
	connections, _ := d.Registry.ListConnections(registry.ConnectionFilter{CapsuleID: id, Status: store.StatusActive})
	data := confirmData{
		Action: "/dashboard/capsules/" + id + "/delete", Back: "/dashboard/capsules/" + id,
		Heading: "Delete capsule " + capsule.Name + "?", Button: "Delete capsule", Danger: true,
		Facts: [][2]string{{"Capsule", capsule.Name + " (" + id + ")"}, {"Entries", strconv.Itoa(capsule.EntryCount)},
			{"Active connections", strconv.Itoa(len(connections))}},
		Explain: "Every share, OAuth grant and enrollment token of this capsule is revoked at once, and its box moves to boxes/.deleted/ in the data directory. This cannot be undone from the dashboard.",
	}
	d.render(c, http.StatusOK, "confirm", d.newView(c, "capsules", "Confirm deletion", data))
}

func (d *Dashboard) deleteCapsule(c *gin.Context) {
	id, ok := d.capsuleID(c)
	if !ok {
		return
	}
	if err := d.Registry.DeleteCapsule(id, sessionOf(c).Actor); err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "capsule.delete", id, nil)
	redirect(c, "/dashboard/capsules", "capsule-deleted")
}
