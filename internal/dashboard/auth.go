package dashboard

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
)

// Limit of failed break-glass sign-ins per client address: failures per
// minute, and how many may come at once before the address is blocked.
const (
	loginPerMinute = 10
	loginBurst     = 5
)

type loginData struct {
	OIDC    bool
	Next    string
	Ended   bool
	Failed  bool
	Limited bool
}

func (d *Dashboard) home(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, "/dashboard/capsules")
	c.Abort()
}

// loginPage offers OIDC sign-in, when configured, and break-glass sign-in
// with the admin key.
func (d *Dashboard) loginPage(c *gin.Context) {
	next := signin.SafeNext(c.Query("next"))
	if _, ok := d.SignIn.Identify(c.Request); ok {
		if next == "" {
			next = "/dashboard"
		}
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	d.renderLogin(c, http.StatusOK, loginData{Next: next, Ended: c.Query("ended") != ""})
}

func (d *Dashboard) renderLogin(c *gin.Context, status int, data loginData) {
	data.OIDC = d.SignIn.OIDCConfigured()
	d.render(c, status, "login", view{Title: "Sign in", Data: data})
}

// crossSite reports whether the browser's Sec-Fetch-Site header marks a
// request as sent from another site. Forms without a session (sign-in) cannot carry a CSRF token, so
// they are checked this way instead.
func crossSite(c *gin.Context) bool {
	return c.GetHeader("Sec-Fetch-Site") == "cross-site"
}

// breakGlass signs in with the admin key from the admin_key form field.
func (d *Dashboard) breakGlass(c *gin.Context) {
	next := signin.SafeNext(c.PostForm("next"))
	if crossSite(c) {
		d.renderError(c, http.StatusForbidden, "csrf_failed", "Request rejected",
			"A sign-in form on another site was submitted to this registry (csrf_failed). Open the sign-in page of the registry itself.")
		return
	}
	if d.loginLimits.blocked(c.RemoteIP()) {
		c.Header("Retry-After", "60")
		d.renderLogin(c, http.StatusTooManyRequests, loginData{Next: next, Limited: true})
		return
	}
	if !d.SignIn.BreakGlass(c.Writer, c.Request, c.PostForm("admin_key")) {
		d.loginLimits.failed(c.RemoteIP())
		d.renderLogin(c, http.StatusUnauthorized, loginData{Next: next, Failed: true})
		return
	}
	if next == "" {
		next = "/dashboard"
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (d *Dashboard) logout(c *gin.Context) {
	d.SignIn.SignOut(c.Writer, c.Request)
	c.Redirect(http.StatusSeeOther, "/dashboard/login")
	c.Abort()
}

// oidcLogin redirects to the identity provider.
func (d *Dashboard) oidcLogin(c *gin.Context) {
	target, lerr := d.SignIn.StartLogin(c.Request.Context(), c.Writer, "", c.Query("next"))
	if lerr != nil {
		d.renderError(c, lerr.Status, lerr.Code, lerr.Title, lerr.Message)
		return
	}
	c.Redirect(http.StatusFound, target)
}

// oidcCallback completes the sign-in. The callback is a navigation from
// the identity provider's site, and browsers do not send a SameSite=Strict
// cookie on a redirect chain that started on another site. So it returns
// a small page of this site that moves on to the dashboard, instead of a
// redirect. That next navigation is same-site and carries the new session.
func (d *Dashboard) oidcCallback(c *gin.Context) {
	result, lerr := d.SignIn.FinishLogin(c.Request.Context(), c.Writer, c.Request)
	if lerr != nil {
		d.renderError(c, lerr.Status, lerr.Code, lerr.Title, lerr.Message)
		return
	}
	next := result.Next
	if next == "" {
		next = "/dashboard"
	}
	message := "Signed in as " + result.Operator.Email + " (" + result.Operator.Role + ")."
	if result.Invited {
		message = "Welcome! Your invite is accepted: you are signed in as " + result.Operator.Email + " with the role " + result.Operator.Role + "."
	}
	d.render(c, http.StatusOK, "message", view{Title: "Signed in", Message: message, Refresh: next})
}

// invite starts the OIDC sign-in of an invite link. Opening the link
// changes nothing; the invite is consumed when a sign-in with the invited
// email completes.
func (d *Dashboard) invite(c *gin.Context) {
	invite, err := d.Registry.PendingInvite(c.Param("token"))
	var rejected *registry.Error
	if errors.As(err, &rejected) {
		d.renderError(c, http.StatusNotFound, signin.CodeInviteInvalid, "Invite not valid", rejected.Message)
		return
	}
	if err != nil {
		d.failure(c, err)
		return
	}
	target, lerr := d.SignIn.StartLogin(c.Request.Context(), c.Writer, invite.InviteID, "")
	if lerr != nil {
		d.renderError(c, lerr.Status, lerr.Code, lerr.Title,
			"Your invite is valid, but sign-in cannot start: "+lerr.Message)
		return
	}
	c.Redirect(http.StatusFound, target)
}

// addressLimiter counts failed attempts per client address in a token
// bucket: each failure takes a token, and an address without tokens is
// blocked until the bucket refills. Buckets idle for ten minutes are
// dropped, so its size follows the active clients.
type addressLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newAddressLimiter(perMinute, burst int) *addressLimiter {
	return &addressLimiter{limit: rate.Limit(float64(perMinute) / 60), burst: burst, buckets: map[string]*bucket{}}
}

// blocked reports whether address has no attempt left.
func (l *addressLimiter) blocked(address string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[address]
	return ok && b.limiter.TokensAt(time.Now()) < 1
}

// failed records a failed attempt of address.
func (l *addressLimiter) failed(address string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.swept) > time.Minute {
		for key, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, key)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[address]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[address] = b
	}
	b.seen = now
	b.limiter.AllowN(now, 1)
}
