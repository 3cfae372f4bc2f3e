// Package dashboard serves the operators' web dashboard at /dashboard and
// the sign-in pages around it: server-rendered HTML from embedded
// templates, where every action is a plain form that works without
// JavaScript. Every state-changing request carries the session's CSRF
// token, every page carries security headers that forbid inline scripts
// and framing, and every mutating action is written to the registry audit.
package dashboard

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

//go:embed templates/*.html static/*
var assets embed.FS

// contentSecurityPolicy allows only the dashboard's own stylesheet: no
// scripts at all, no inline styles, forms only to this origin, and no
// framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Dashboard serves the dashboard of one registry.
type Dashboard struct {
	Registry *registry.Registry
	SignIn   *signin.Service
	Logger   *slog.Logger

	pages       map[string]*template.Template
	loginLimits *addressLimiter
}

// New parses the embedded templates and returns the dashboard.
func New(reg *registry.Registry, signIn *signin.Service, logger *slog.Logger) (*Dashboard, error) {
	d := &Dashboard{Registry: reg, SignIn: signIn, Logger: logger, pages: map[string]*template.Template{},
		loginLimits: newAddressLimiter(loginPerMinute, loginBurst)}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New(page).Funcs(templateFuncs).ParseFS(assets, "templates/layout.html", name)
		if err != nil {
			return nil, err
		}
		d.pages[page] = t
	}
	return d, nil
}

// Register adds the dashboard, sign-in and invite routes to r.
func (d *Dashboard) Register(r *gin.Engine) {
	pages := r.Group("", securityHeaders)
	pages.GET("/dashboard/static/app.css", d.stylesheet)
	pages.GET("/dashboard/login", d.loginPage)
	pages.POST("/dashboard/login", d.breakGlass)
	pages.GET(signin.LoginPath, d.oidcLogin)
	pages.GET(signin.CallbackPath, d.oidcCallback)
	pages.GET(registry.InvitePath+":token", d.invite)

	viewer := pages.Group("/dashboard", d.requireSession(registry.OperatorViewer))
	viewer.GET("", d.home)
	viewer.POST("/logout", d.logout)
	viewer.GET("/capsules", d.capsulesPage)
	viewer.GET("/capsules/:id", d.capsulePage)
	viewer.GET("/connections", d.connectionsPage)
	viewer.GET("/connections/:id/confirm", d.confirmConnection)
	viewer.GET("/approvals", d.approvalsPage)
	viewer.GET("/grants/:id/confirm", d.confirmGrant)
	viewer.GET("/operators", d.operatorsPage)
	viewer.GET("/activity", d.activityPage)
	viewer.GET("/settings", d.settingsPage)

	approver := pages.Group("/dashboard", d.requireSession(registry.OperatorApprover))
	approver.POST("/connections/:id/status", d.setConnectionStatus)
	approver.POST("/grants/:id/approve", d.approveGrant)
	approver.POST("/grants/:id/deny", d.denyGrant)

	admin := pages.Group("/dashboard", d.requireSession(registry.OperatorAdmin))
	admin.POST("/capsules", d.createCapsule)
	admin.POST("/capsules/:id/owner", d.setOwner)
	admin.POST("/capsules/:id/claim", d.claimCapsule)
	admin.POST("/capsules/:id/shares", d.createShare)
	admin.POST("/capsules/:id/enrollments", d.createEnrollment)
	admin.GET("/capsules/:id/delete", d.confirmDeleteCapsule)
	admin.POST("/capsules/:id/delete", d.deleteCapsule)
	admin.POST("/enrollments/:id/revoke", d.revokeEnrollment)
	admin.POST("/operators/invites", d.inviteOperator)
	admin.POST("/operators/invites/:id/revoke", d.revokeInvite)
	admin.POST("/operators/:id", d.updateOperator)
	admin.POST("/settings", d.saveSettings)
	admin.POST("/policy", d.savePolicy)
}

// securityHeaders keeps every page out of frames and caches, forbids
// scripts, and asks the browser to send no Referer, so that the invite
// link in the address bar does not reach the identity provider.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(c.Request.URL.Path, "/dashboard/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

func (d *Dashboard) stylesheet(c *gin.Context) {
	data, err := assets.ReadFile("static/app.css")
	if err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", data)
}

// sessionKey is the gin context key of the request's session.
const sessionKey = "capsol.dashboard.session"

// requireSession lets a request through when it has a session whose role
// allows need. A signed-out GET is sent to the sign-in page; a POST must
// carry the session's CSRF token, otherwise it is 403 csrf_failed.
func (d *Dashboard) requireSession(need string) gin.HandlerFunc {
	return func(c *gin.Context) {
		session, ok := d.SignIn.Identify(c.Request)
		if !ok {
			if c.Request.Method == http.MethodGet {
				target := "/dashboard/login?next=" + url.QueryEscape(c.Request.URL.RequestURI())
				if signin.HasSessionCookie(c.Request) {
					target += "&ended=1"
				}
				c.Redirect(http.StatusSeeOther, target)
				c.Abort()
				return
			}
			d.renderError(c, http.StatusUnauthorized, "invalid_token", "Not signed in",
				"This action needs a signed-in operator, and this request carried no valid session. Sign in and try again.")
			return
		}
		if c.Request.Method != http.MethodGet && !signin.CheckCSRF(session, csrfOf(c)) {
			d.Logger.Warn("dashboard request without a valid CSRF token refused", "actor", session.Actor,
				"path", c.Request.URL.Path, "remote_addr", c.RemoteIP())
			d.renderError(c, http.StatusForbidden, "csrf_failed", "Request rejected",
				"The form's security token is missing or wrong (csrf_failed), so nothing was changed. Reload the page and submit the form again.")
			return
		}
		if !registry.RoleAllows(session.Role, need) {
			d.renderError(c, http.StatusForbidden, "forbidden", "Not allowed",
				"Your role ("+session.Role+") may not do this; it needs the "+need+" role. Ask an admin to change your role.")
			return
		}
		c.Set(sessionKey, session)
		c.Next()
	}
}

// csrfOf returns the CSRF token of a request: the form field, or the
// header for scripted requests.
func csrfOf(c *gin.Context) string {
	if token := c.Request.PostFormValue(signin.CSRFField); token != "" {
		return token
	}
	return c.GetHeader(signin.CSRFHeader)
}

func sessionOf(c *gin.Context) registry.Session {
	v, _ := c.Get(sessionKey)
	session, _ := v.(registry.Session)
	return session
}

// audit writes one dashboard action to the registry audit.
func (d *Dashboard) audit(c *gin.Context, action, target string, details map[string]any) {
	d.Registry.AuditRegistry(auditlog.RegistryRecord{
		Actor: sessionOf(c).Actor, Action: action, Target: target, Details: details, RemoteAddr: c.RemoteIP(),
	})
}

// redirect sends 303 See Other to path with a notice, the reply to a
// completed form.
func redirect(c *gin.Context, path, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "notice=" + url.QueryEscape(notice)
	}
	c.Redirect(http.StatusSeeOther, path)
	c.Abort()
}

// failure renders the error of a registry operation: a rejected request
// with its message and status, anything else as 500 with the details only
// in the daemon log.
func (d *Dashboard) failure(c *gin.Context, err error) {
	var rejected *registry.Error
	if errors.As(err, &rejected) {
		status := map[string]int{
			registry.CodeInvalidRequest: http.StatusBadRequest, registry.CodeForbidden: http.StatusForbidden,
			registry.CodeNotFound: http.StatusNotFound, registry.CodeConflict: http.StatusConflict,
			registry.CodeRateLimited: http.StatusTooManyRequests,
		}[rejected.Code]
		if status == 0 {
			status = http.StatusBadRequest
		}
		d.renderError(c, status, rejected.Code, "That did not work", rejected.Message)
		return
	}
	d.Logger.Error("dashboard action failed", "path", c.Request.URL.Path, "error", err)
	d.renderError(c, http.StatusInternalServerError, "internal", "Server error", "The action failed; the daemon log has the details.")
}
