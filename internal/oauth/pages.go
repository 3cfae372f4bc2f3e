package oauth

import (
	"html/template"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/store"
)

// pageData fills the authorization pages.
type pageData struct {
	Title      string
	Message    string
	ClientName string
	ClientID   string
	CapsuleID  string
	Capsule    string
	Role       string
	GrantID    string
	Redirect   string
	Approver   string
	CSRF       string
	Request    string
}

func (s *Server) pageDataFor(req *authorizeRequest, grant store.Grant) pageData {
	name := ""
	if c, ok := s.Registry.Capsule(req.capsuleID); ok {
		name = c.Name
	}
	return pageData{
		ClientName: req.client.Name, ClientID: req.client.ClientID, CapsuleID: req.capsuleID, Capsule: name,
		Role: req.role, GrantID: grant.ID, Redirect: req.redirectURI,
	}
}

var pages = template.Must(template.New("layout").Parse(`{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · capsol</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin-top:0}dl{display:grid;grid-template-columns:8rem 1fr;gap:.3rem 1rem}dt{color:#5b6475}dd{margin:0;word-break:break-all}
code{background:#eef0f4;padding:.1rem .3rem;border-radius:4px}.badge{display:inline-block;padding:.1rem .5rem;border-radius:99px;background:#fff4d6;color:#7a5200;font-size:.85rem}
button{font:inherit;padding:.5rem 1.2rem;border-radius:8px;border:1px solid #c9ced8;background:#fff;cursor:pointer;margin-right:.5rem}
button.primary{background:#1f6feb;color:#fff;border-color:#1f6feb}
</style></head><body><main>{{end}}
{{define "foot"}}</main></body></html>{{end}}
{{define "details"}}<dl><dt>Client</dt><dd>{{.ClientName}}</dd><dt>Client id</dt><dd><code>{{.ClientID}}</code></dd>
<dt>Capsule</dt><dd>{{.Capsule}} <code>{{.CapsuleID}}</code></dd><dt>Access</dt><dd>{{.Role}}</dd>
<dt>Redirect</dt><dd><code>{{.Redirect}}</code></dd><dt>Request</dt><dd><code>{{.GrantID}}</code></dd></dl>{{end}}
{{define "waiting"}}{{template "head" .}}<h1>Waiting for approval</h1>
<p><span class="badge">pending</span> An operator must approve this request before {{.ClientName}} can use the capsule.</p>
{{template "details" .}}
<p>Ask an approver to approve request <code>{{.GrantID}}</code> in the dashboard under Approvals, or run
<code>capsol grants approve {{.GrantID}}</code>. This page checks again every few seconds.</p>
<noscript><p><a href="">Check again</a></p></noscript>{{template "foot" .}}{{end}}
{{define "consent"}}{{template "head" .}}<h1>Allow {{.ClientName}}?</h1>
<p>{{.ClientName}} asks for <strong>{{.Role}}</strong> access to this capsule. You are signed in as {{.Approver}}.</p>
{{template "details" .}}
<form method="post" action="/oauth/authorize/decision">
<input type="hidden" name="grant_id" value="{{.GrantID}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="request" value="{{.Request}}">
<button class="primary" name="decision" value="approve">Approve</button><button name="decision" value="deny">Deny</button>
</form>{{template "foot" .}}{{end}}
{{define "error"}}{{template "head" .}}<h1>{{.Title}}</h1><p>{{.Message}}</p>{{template "foot" .}}{{end}}`))

// renderPage writes one of the authorization pages with the headers that
// keep it out of frames and caches.
func (s *Server) renderPage(c *gin.Context, status int, name string, data pageData) {
	if data.Title == "" {
		data.Title = map[string]string{"waiting": "Waiting for approval", "consent": "Approve access"}[name]
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	c.Status(status)
	if err := pages.ExecuteTemplate(c.Writer, name, data); err != nil {
		s.Logger.Error("cannot render OAuth page", "page", name, "error", err)
	}
	c.Abort()
}
