package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/capsol/capsol/internal/auditlog"
)

// callOutcome carries the error code of a tool call from its handler to the
// audit middleware that wraps it.
type callOutcome struct{ code string }

type callOutcomeKey struct{}

func recordErrorCode(ctx context.Context, code string) {
	if out, ok := ctx.Value(callOutcomeKey{}).(*callOutcome); ok {
		out.code = code
	}
}

// auditMiddleware appends one line to the capsule's audit log for every MCP
// request except ping and notifications, and counts tool calls.
func (c *capsuleServer) auditMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "ping" || strings.HasPrefix(method, "notifications/") {
			return next(ctx, method, req)
		}
		started := time.Now()
		outcome := &callOutcome{}
		ctx = context.WithValue(ctx, callOutcomeKey{}, outcome)

		res, err := next(ctx, method, req)

		rec := auditlog.CapsuleRecord{
			TS: c.parent.registry.Now(), Method: method, Outcome: auditlog.OutcomeOK,
			DurationMS: time.Since(started).Milliseconds(),
		}
		if extra := req.GetExtra(); extra != nil && extra.TokenInfo != nil {
			if agent, ok := agentOf(extra); ok {
				rec.ConnectionID, rec.PrincipalID, rec.Kind = agent.ConnectionID, agent.PrincipalID, agent.Kind
			}
			rec.RemoteAddr, _ = extra.TokenInfo.Extra[remoteAddrKey].(string)
		}
		rec.Tool, rec.URI = requestTarget(req)

		switch {
		case err != nil:
			rec.Outcome, rec.ErrorCode = auditlog.OutcomeError, errorCodeOf(err, outcome)
		case isToolError(res):
			rec.Outcome, rec.ErrorCode = auditlog.OutcomeError, outcome.code
			if outcome.code == codeForbidden {
				rec.Outcome = auditlog.OutcomeDenied
			}
			if outcome.code == "" {
				// The SDK rejected the arguments against the tool's schema
				// before the handler ran.
				rec.ErrorCode = "invalid_request"
			}
		}
		if method == "tools/call" {
			c.parent.metrics.MCPCalls.WithLabelValues(rec.Tool, rec.Outcome).Inc()
		}
		c.parent.registry.AppendCapsuleLog(c.id, rec)
		return res, err
	}
}

// requestTarget returns the tool name and entry URI a request is about.
// Only the uri argument is read: content and blob data are never logged.
func requestTarget(req mcp.Request) (tool, uri string) {
	switch r := req.(type) {
	case *mcp.CallToolRequest:
		if r.Params == nil {
			return "", ""
		}
		var args struct {
			URI string `json:"uri"`
			Ref string `json:"ref"`
		}
		_ = json.Unmarshal(r.Params.Arguments, &args)
		if args.URI == "" {
			args.URI = args.Ref
		}
		return r.Params.Name, truncate(args.URI, 600)
	case *mcp.ReadResourceRequest:
		if r.Params != nil {
			return "", truncate(r.Params.URI, 600)
		}
	case *mcp.SubscribeRequest:
		if r.Params != nil {
			return "", truncate(r.Params.URI, 600)
		}
	}
	return "", ""
}

func isToolError(res mcp.Result) bool {
	r, ok := res.(*mcp.CallToolResult)
	return ok && r != nil && r.IsError
}

func errorCodeOf(err error, outcome *callOutcome) string {
	if outcome.code != "" {
		return outcome.code
	}
	var rpc *jsonrpc.Error
	if errors.As(err, &rpc) && rpc.Code == mcp.CodeResourceNotFound {
		return "not_found"
	}
	return "invalid_request"
}

func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max]
}
