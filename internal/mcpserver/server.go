// Package mcpserver serves /mcp/<capsule-id> over the MCP Streamable HTTP
// transport of the official Go SDK. Every HTTP request is authenticated
// before it reaches the SDK, so a revoked or paused connection is rejected
// on its very next request, even within an open session. Its open streams
// are closed as soon as the registry reports the change.
package mcpserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/capsol/capsol/internal/auditlog"
	capauth "github.com/capsol/capsol/internal/auth"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

// Server is the MCP side of the daemon: one mcp.Server per capsule behind
// one Streamable HTTP handler.
type Server struct {
	registry *registry.Registry
	resolver *capauth.Resolver
	logger   *slog.Logger
	metrics  *metrics.Metrics
	handler  http.Handler

	mu      sync.Mutex
	servers map[string]*mcp.Server

	capsules atomic.Pointer[capsuleIndex]

	streamsMu sync.Mutex
	streams   map[string]map[*openRequest]struct{} // by connection id
}

// openRequest is an HTTP request in progress on /mcp, cancelled when its
// connection loses access.
type openRequest struct {
	cancel context.CancelFunc
}

// identityKey is the TokenInfo.Extra key of the caller's capauth.Agent.
const (
	identityKey   = "capsol.agent"
	remoteAddrKey = "capsol.remote_addr"
)

// New returns the MCP server of a registry and subscribes it to the
// registry's change hooks.
func New(reg *registry.Registry, logger *slog.Logger, m *metrics.Metrics) *Server {
	s := &Server{
		registry: reg,
		resolver: &capauth.Resolver{Store: reg.Store},
		logger:   logger,
		metrics:  m,
		servers:  map[string]*mcp.Server{},
		streams:  map[string]map[*openRequest]struct{}{},
	}
	sdkHandler := mcp.NewStreamableHTTPHandler(s.serverFor, &mcp.StreamableHTTPOptions{
		Logger:         slog.New(warnOnly{logger.Handler()}).With("component", "mcp"),
		SessionTimeout: 30 * time.Minute,
	})
	// The SDK binds each session to TokenInfo.UserID (the connection id),
	// so a session cannot be continued with another connection's credential.
	s.handler = auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		info, ok := ctx.Value(tokenInfoKey{}).(*auth.TokenInfo)
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return info, nil
	}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(sdkHandler)

	reg.OnEntryChanged(s.entryChanged)
	reg.OnConnectionChanged(s.closeConnection)
	reg.OnCapsuleGone(s.forgetCapsule)
	return s
}

type tokenInfoKey struct{}

// ServeHTTP authenticates the request for the capsule named by capsuleID and
// hands it to the SDK.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request, capsuleID string) {
	if !ids.Valid(ids.Capsule, capsuleID) || s.capsule(capsuleID) == nil {
		writeJSONError(w, http.StatusNotFound, "not_found", "no capsule "+quoteID(capsuleID)+"; check the MCP URL")
		return
	}

	now := s.registry.Now()
	token := capauth.BearerToken(r.Header.Get("Authorization"))
	agent, refusal := s.resolver.Resolve(capsuleID, token, now)
	remote := remoteAddr(r)
	if refusal != nil {
		s.refuse(w, capsuleID, refusal, remote, now)
		return
	}
	s.registry.TouchConnection(agent.ConnectionID)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	open := &openRequest{cancel: cancel}
	s.track(agent.ConnectionID, open)
	defer s.untrack(agent.ConnectionID, open)

	// A revocation may have landed between Resolve and track; check again so
	// that the stream is never left open for a revoked connection.
	if _, refusal := s.resolver.Resolve(capsuleID, token, now); refusal != nil {
		s.refuse(w, capsuleID, refusal, remote, now)
		return
	}

	info := &auth.TokenInfo{
		UserID: agent.ConnectionID,
		Extra:  map[string]any{identityKey: agent, remoteAddrKey: remote},
	}
	ctx = context.WithValue(ctx, tokenInfoKey{}, info)
	s.handler.ServeHTTP(w, r.WithContext(ctx))
}

func (s *Server) refuse(w http.ResponseWriter, capsuleID string, refusal *capauth.Refusal, remote string, now time.Time) {
	s.metrics.AuthFailures.WithLabelValues(refusal.Code).Inc()
	s.registry.AppendCapsuleLog(capsuleID, auditlog.CapsuleRecord{
		TS: now, ConnectionID: refusal.ConnectionID, PrincipalID: refusal.PrincipalID, Kind: refusal.Kind,
		Method: "authenticate", Outcome: auditlog.OutcomeDenied, ErrorCode: refusal.Code, RemoteAddr: remote,
	})
	w.Header().Set("WWW-Authenticate", capauth.Challenge(refusal, s.ResourceMetadataURL(capsuleID)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error":             refusal.Description,
		"error_code":        refusal.Code,
		"error_description": refusal.Code + ": " + refusal.Description,
	})
}

// ResourceMetadataURL returns the RFC 9728 metadata URL of a capsule's MCP
// endpoint, with the path suffix the MCP authorization spec uses.
func (s *Server) ResourceMetadataURL(capsuleID string) string {
	return s.registry.BaseURL + "/.well-known/oauth-protected-resource/mcp/" + capsuleID
}

// capsuleIndex maps capsule ids to their records in one snapshot of the
// capsules index, so that a request finds its capsule without a scan.
type capsuleIndex struct {
	doc  *store.CapsulesDoc
	byID map[string]*store.Capsule
}

// capsule returns the record of capsule id, or nil when there is none. The
// id map is rebuilt when the capsules index has changed since it was built.
func (s *Server) capsule(id string) *store.Capsule {
	doc := s.registry.Store.Capsules.Get()
	index := s.capsules.Load()
	if index == nil || index.doc != doc {
		index = &capsuleIndex{doc: doc, byID: make(map[string]*store.Capsule, len(doc.Capsules))}
		for i := range doc.Capsules {
			index.byID[doc.Capsules[i].ID] = &doc.Capsules[i]
		}
		s.capsules.Store(index)
	}
	return index.byID[id]
}

// serverFor returns the mcp.Server of the capsule in the request path. The
// path was validated by ServeHTTP.
func (s *Server) serverFor(r *http.Request) *mcp.Server {
	info := auth.TokenInfoFromContext(r.Context())
	if info == nil {
		return nil
	}
	agent, ok := info.Extra[identityKey].(capauth.Agent)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv, ok := s.servers[agent.CapsuleID]; ok {
		return srv
	}
	srv := s.newCapsuleServer(agent.CapsuleID)
	s.servers[agent.CapsuleID] = srv
	return srv
}

func (s *Server) newCapsuleServer(capsuleID string) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "capsol", Title: "capsol capsule " + capsuleID, Version: version.Version},
		&mcp.ServerOptions{
			Instructions: "A capsol capsule: a shared knowledge space. Entries are addressed by URI (notes://…); " +
				"use search_entries and list_entries to find them, read_entry to read and write_entry to record knowledge.",
			Capabilities: &mcp.ServerCapabilities{
				Tools:     &mcp.ToolCapabilities{},
				Resources: &mcp.ResourceCapabilities{Subscribe: true},
			},
			SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
			UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
			Logger:             slog.New(warnOnly{s.logger.Handler()}).With("capsule_id", capsuleID),
		})
	c := &capsuleServer{id: capsuleID, parent: s}
	c.addTools(srv)
	c.addResources(srv)
	srv.AddReceivingMiddleware(c.auditMiddleware, c.resourceMiddleware)
	return srv
}

func (s *Server) entryChanged(capsuleID, uri string) {
	s.mu.Lock()
	srv := s.servers[capsuleID]
	s.mu.Unlock()
	if srv == nil {
		return
	}
	if err := srv.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: uri}); err != nil {
		s.logger.Warn("resource update notification failed", "capsule_id", capsuleID, "uri", uri, "error", err)
	}
}

func (s *Server) forgetCapsule(capsuleID string) {
	s.mu.Lock()
	delete(s.servers, capsuleID)
	s.mu.Unlock()
}

func (s *Server) track(connectionID string, open *openRequest) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	set, ok := s.streams[connectionID]
	if !ok {
		set = map[*openRequest]struct{}{}
		s.streams[connectionID] = set
	}
	set[open] = struct{}{}
}

func (s *Server) untrack(connectionID string, open *openRequest) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	delete(s.streams[connectionID], open)
	if len(s.streams[connectionID]) == 0 {
		delete(s.streams, connectionID)
	}
}

// closeConnection ends every open request of a connection, which closes its
// server-to-client streams at once. Whether the connection may reconnect is
// decided by the next request's authentication.
func (s *Server) closeConnection(connectionID string) {
	s.streamsMu.Lock()
	open := s.streams[connectionID]
	delete(s.streams, connectionID)
	s.streamsMu.Unlock()
	for req := range open {
		req.cancel()
	}
	if len(open) > 0 {
		s.logger.Info("closed open MCP requests of a connection", "connection_id", connectionID, "requests", len(open))
	}
}

func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": message, "error_code": code})
}

// quoteID quotes an id for a message, cut to a readable length.
func quoteID(id string) string {
	if len(id) > 64 {
		id = id[:64] + "…"
	}
	b, _ := json.Marshal(id)
	return string(b)
}

// warnOnly passes on warnings and errors only. The SDK logs every resource
// notification at info level, which would add a daemon log line per write.
type warnOnly struct{ slog.Handler }

func (h warnOnly) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && h.Handler.Enabled(ctx, level)
}

func (h warnOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnOnly{h.Handler.WithAttrs(attrs)}
}

func (h warnOnly) WithGroup(name string) slog.Handler {
	return warnOnly{h.Handler.WithGroup(name)}
}
