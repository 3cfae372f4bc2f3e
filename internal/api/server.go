// Package api holds the daemon's HTTP routes on Gin: health and readiness,
// metrics, the /v1 admin API and the agent-facing endpoints. Every handler
// checks ids against their grammar before they reach the store.
package api

import (
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/dashboard"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/mcpserver"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/oauth"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
	"github.com/capsol/capsol/internal/store"
)

// Readiness states reported by /ready.
const (
	StateStarting = "starting"
	StateReady    = "ready"
	StateStopping = "stopping"
)

// Default request body limits.
const (
	MaxBodyBytes    = 1 << 20
	MaxMCPBodyBytes = 20 << 20
)

// Server is the HTTP side of one daemon.
type Server struct {
	Store    *store.Store
	Registry *registry.Registry
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	AdminKey *keys.AdminKey
	MCP      *mcpserver.Server
	OAuth    *oauth.Server
	BaseURL  string

	// SignIn resolves the dashboard sessions of /v1 requests. Dashboard
	// serves /dashboard and the sign-in routes. Either may be nil.
	SignIn    *signin.Service
	Dashboard *dashboard.Dashboard

	state atomic.Value
}

// SetState changes what /ready reports.
func (s *Server) SetState(state string) { s.state.Store(state) }

// State returns what /ready reports.
func (s *Server) State() string {
	if v, ok := s.state.Load().(string); ok {
		return v
	}
	return StateStarting
}

// Router builds the Gin engine with every route.
func (s *Server) Router() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.recoverPanics(), s.observeRequests(), limitBody())
	r.NoRoute(func(c *gin.Context) {
		abortError(c, http.StatusNotFound, "not_found", "no route for "+c.Request.Method+" "+c.Request.URL.Path)
	})
	r.NoMethod(func(c *gin.Context) {
		abortError(c, http.StatusMethodNotAllowed, "invalid_request", "method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	r.GET("/health", s.health)
	r.GET("/ready", s.ready)
	r.GET("/metrics", gin.WrapH(s.Metrics.Handler()))
	s.registerV1(r)
	s.registerAgentRoutes(r)
	s.registerGrants(r)
	s.registerOperators(r)
	if s.Dashboard != nil {
		s.Dashboard.Register(r)
	}
	if s.OAuth != nil {
		s.OAuth.Register(r)
	}
	if s.MCP != nil {
		r.Any("/mcp/:capsuleId", mcpCORS, func(c *gin.Context) {
			s.MCP.ServeHTTP(c.Writer, c.Request, c.Param("capsuleId"))
		})
	}
	return r
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error     string `json:"error"`
	ErrorCode string `json:"error_code"`
}

func abortError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: message, ErrorCode: code})
}

// mcpCORS lets browser-based MCP clients call /mcp: credentials travel in
// the Authorization header, never in cookies, so any origin may call it,
// and the client must be able to read the session and challenge headers.
func mcpCORS(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, MCP-Protocol-Version")
	h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate")
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}
