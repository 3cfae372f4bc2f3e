package dashboard

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

type operatorsData struct {
	Operators []registry.Operator
	Invites   []registry.Invite
	Names     map[string]string
	Self      string
	SMTP      bool
}

type inviteCreatedData struct {
	Invite signin.InviteResult
}

func (d *Dashboard) operatorsPage(c *gin.Context) {
	operators, names := d.ownerNames()
	_, smtpSet, _ := d.Registry.SMTPURL(d.SignIn.Cipher)
	data := operatorsData{
		Operators: operators, Invites: d.Registry.ListInvites(), Names: names, Self: sessionOf(c).OperatorID, SMTP: smtpSet,
	}
	d.render(c, http.StatusOK, "operators", d.newView(c, "operators", "Operators", data))
}

// inviteOperator creates an invite, emails it when SMTP is set, and shows
// the link once.
func (d *Dashboard) inviteOperator(c *gin.Context) {
	result, err := d.SignIn.Invite(c.Request.Context(), c.PostForm("email"), c.PostForm("role"), sessionOf(c).Actor)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "operator.invite", result.InviteID, map[string]any{
		"email": result.Email, "role": result.Role, "emailed": result.Emailed, "expires_at": result.ExpiresAt,
	})
	d.render(c, http.StatusCreated, "invite", d.newView(c, "operators", "Invite created", inviteCreatedData{Invite: result}))
}

func (d *Dashboard) revokeInvite(c *gin.Context) {
	id := c.Param("id")
	if !ids.Valid(ids.Invite, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Invite not found", "No invite has the id "+strconv.Quote(id)+".")
		return
	}
	invite, err := d.Registry.RevokeInvite(id)
	if err != nil {
		d.failure(c, err)
		return
	}
	d.audit(c, "invite.revoke", id, map[string]any{"email": invite.Email})
	redirect(c, "/dashboard/operators", "invite-revoked")
}

// updateOperator changes an operator's role or status from the form
// fields role and status; an empty field leaves that value as it is.
func (d *Dashboard) updateOperator(c *gin.Context) {
	id := c.Param("id")
	if !ids.Valid(ids.Operator, id) {
		d.renderError(c, http.StatusNotFound, "not_found", "Operator not found", "No operator has the id "+strconv.Quote(id)+".")
		return
	}

	var update registry.OperatorUpdate
	if role := c.PostForm("role"); role != "" {
		update.Role = &role
	}
	if status := c.PostForm("status"); status != "" {
		update.Status = &status
	}
	if update.Status != nil && *update.Status == registry.OperatorDisabled && sessionOf(c).OperatorID == id {
		d.renderError(c, http.StatusConflict, "conflict", "Cannot disable yourself",
			"You cannot disable your own operator account. Ask another admin, or use the admin key.")
		return
	}

	op, err := d.Registry.UpdateOperator(id, update)
	if err != nil {
		d.failure(c, err)
		return
	}
	details := map[string]any{}
	if update.Role != nil {
		details["role"] = op.Role
	}
	if update.Status != nil {
		details["status"] = op.Status
	}
	d.audit(c, "operator.update", id, details)
	redirect(c, "/dashboard/operators", "operator-updated")
}
