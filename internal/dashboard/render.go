package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// view is the data of every page template.
type view struct {
	Title   string
	Nav     string
	Session *registry.Session
	// Pending is the number of pending grants, shown on the Approvals tab.
	Pending int
	Notice  string
	// Code is the error code of an error page.
	Code string
	// Message is the text of an error or information page.
	Message string
	// Refresh, when set, is a local path the page moves on to at once, with
	// a meta refresh and a plain link: no script needed.
	Refresh string
	Data    any
}

// Can reports whether the signed-in session's role includes role.
func (v view) Can(role string) bool {
	return v.Session != nil && registry.RoleAllows(v.Session.Role, role)
}

// CSRF returns the session's CSRF token for hidden form fields.
func (v view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRFToken
}

// Who names the signed-in person in the header.
func (v view) Who() string {
	switch {
	case v.Session == nil:
		return ""
	case v.Session.BreakGlass:
		return "admin key (break-glass)"
	case v.Session.Email != "":
		return v.Session.Email
	}
	return v.Session.OperatorID
}

// notices are the messages that a redirect after a form shows, by the
// notice code in the URL. Codes keep arbitrary text out of links.
var notices = map[string]string{
	"capsule-created":    "Capsule created.",
	"owner-changed":      "Owner changed.",
	"claimed":            "You now own this capsule.",
	"capsule-deleted":    "Capsule deleted. Its connections are revoked and its box was moved to boxes/.deleted/.",
	"enrollment-revoked": "Enrollment token revoked.",
	"active":             "Connection resumed. The agent can use it again.",
	"paused":             "Connection paused. The agent's next request gets 401 connection_paused.",
	"revoked":            "Connection revoked. The agent's next request gets 401 token_revoked.",
	"grant-approved":     "Request approved. The client's authorization page completes on its next check.",
	"grant-denied":       "Request denied. The client receives access_denied.",
	"grant-revoked":      "Grant revoked. The client's next request gets 401 grant_revoked.",
	"operator-updated":   "Operator updated. A new role applies on the operator's next sign-in; disabling ends their sessions at once.",
	"invite-revoked":     "Invite revoked. Its link no longer works.",
	"settings-saved":     "Settings saved.",
	"policy-saved":       "Policy saved.",
}

// newView returns the view of a signed-in page.
func (d *Dashboard) newView(c *gin.Context, nav, title string, data any) view {
	session := sessionOf(c)
	v := view{Title: title, Nav: nav, Data: data, Notice: notices[c.Query("notice")]}
	if session.Actor != "" {
		v.Session = &session
	}
	for _, g := range d.Registry.Store.Grants.Get().Grants {
		if g.Status == store.StatusPending {
			v.Pending++
		}
	}
	return v
}

// render executes a page template into a buffer first, so that a template
// error becomes a clean 500 page instead of half a page.
func (d *Dashboard) render(c *gin.Context, status int, page string, v view) {
	t, ok := d.pages[page]
	if !ok {
		d.Logger.Error("dashboard page template missing", "page", page)
		c.String(http.StatusInternalServerError, "internal error: page template missing")
		c.Abort()
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		d.Logger.Error("cannot render dashboard page", "page", page, "error", err)
		c.String(http.StatusInternalServerError, "internal error: the page could not be rendered; the daemon log has the details")
		c.Abort()
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	c.Abort()
}

// renderError shows an error page with its code, which tests and people
// can search for.
func (d *Dashboard) renderError(c *gin.Context, status int, code, title, message string) {
	c.Set("error_code", code)
	v := view{Title: title, Code: code, Message: message}
	if session := sessionOf(c); session.Actor != "" {
		v.Session = &session
	}
	d.render(c, status, "message", v)
}

var templateFuncs = template.FuncMap{
	"time":    formatTime,
	"timeptr": formatTimePtr,
	"ago":     ago,
	"badge":   badgeClass,
	"deref":   deref,
	"details": detailPairs,
	"short":   shortID,
	"roles":   func() []string { return registry.OperatorRoles },
	"agentRoles": func() []string {
		return []string{store.RoleReader, store.RoleWriter}
	},
	"contains": func(list []string, s string) bool {
		for _, item := range list {
			if item == s {
				return true
			}
		}
		return false
	},
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return formatTime(*t)
}

// ago describes how long ago t was, for "last used" columns.
func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	d := time.Since(*t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// badgeClass maps a status or outcome to the CSS class of its badge.
func badgeClass(status string) string {
	switch status {
	case store.StatusActive, store.StatusApproved, "ok", registry.InviteConsumed, registry.OperatorAdmin:
		return "badge ok"
	case store.StatusPaused, store.StatusPending, registry.OperatorApprover, "error":
		return "badge warn"
	case store.StatusRevoked, registry.OperatorDisabled, registry.InviteExpired, "denied", "exhausted":
		return "badge bad"
	}
	return "badge"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// shortID shortens an id for narrow columns; the full id is in the title
// attribute.
func shortID(id string) string {
	prefix, rest, ok := strings.Cut(id, "_")
	if !ok || len(rest) < 12 {
		return id
	}
	return prefix + "_…" + rest[len(rest)-6:]
}

// detailPairs turns the details of a registry audit entry into sorted
// name and value pairs for display. Strings are shown as they are and
// other values as JSON.
func detailPairs(details map[string]any) [][2]string {
	names := make([]string, 0, len(details))
	for name := range details {
		names = append(names, name)
	}
	sort.Strings(names)
	pairs := make([][2]string, 0, len(names))
	for _, name := range names {
		value, ok := details[name].(string)
		if !ok {
			data, err := json.Marshal(details[name])
			if err != nil {
				continue
			}
			value = string(data)
		}
		pairs = append(pairs, [2]string{name, value})
	}
	return pairs
}

// compactIndent renders v as indented JSON for display, without HTML
// escaping because html/template escapes it on output.
func compactIndent(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSpace(buf.String())
}
