package mcpserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	capauth "github.com/capsol/capsol/internal/auth"
	"github.com/capsol/capsol/internal/box"
)

// capsuleServer holds the tools and resources of one capsule.
type capsuleServer struct {
	id     string
	parent *Server
}

// Tool error codes beyond those of the box package.
const (
	codeForbidden = "forbidden"
	codeInternal  = "internal"
)

// toolError is a tool call that failed with a code an agent can act on.
type toolError struct {
	code    string
	message string
}

func (e *toolError) Error() string { return e.code + ": " + e.message }

// Arguments of each tool. The jsonschema tags become the tools' input
// schemas.
type (
	noArgs struct{}

	listEntriesArgs struct {
		Prefix string `json:"prefix,omitempty" jsonschema:"only entries whose URI starts with this prefix, such as notes://design/"`
		Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
		Limit  int    `json:"limit,omitempty" jsonschema:"entries per page, 1 to 1000 (default 100)"`
	}
	readEntryArgs struct {
		URI string `json:"uri" jsonschema:"entry URI, such as notes://design/auth"`
	}
	searchEntriesArgs struct {
		Query  string `json:"query" jsonschema:"words to search for in titles, content and tags"`
		Prefix string `json:"prefix,omitempty" jsonschema:"only entries whose URI starts with this prefix"`
		Limit  int    `json:"limit,omitempty" jsonschema:"hits to return, 1 to 100 (default 10)"`
	}
	writeEntryArgs struct {
		URI         string   `json:"uri" jsonschema:"entry URI, such as notes://design/auth"`
		Content     string   `json:"content" jsonschema:"entry content, at most 1 MiB"`
		ContentType string   `json:"content_type,omitempty" jsonschema:"media type of content (default text/markdown)"`
		Tags        []string `json:"tags,omitempty" jsonschema:"tags for search and listing"`
		IfVersion   *int64   `json:"if_version,omitempty" jsonschema:"write only if the entry is at this version (0 = only if it does not exist)"`
	}
	deleteEntryArgs struct {
		URI       string `json:"uri" jsonschema:"entry URI"`
		IfVersion *int64 `json:"if_version,omitempty" jsonschema:"delete only if the entry is at this version"`
	}
	putBlobArgs struct {
		DataBase64  string `json:"data_base64" jsonschema:"blob bytes in standard base64, at most 16 MiB decoded"`
		ContentType string `json:"content_type" jsonschema:"media type of the blob, such as image/png"`
	}
	getBlobArgs struct {
		Ref string `json:"ref" jsonschema:"blob reference returned by put_blob: blob:sha256:<64 hex>"`
	}
	rememberArgs struct {
		Key   string `json:"key" jsonschema:"memory key"`
		Value string `json:"value" jsonschema:"value to store under the key"`
	}
	recallArgs struct {
		Key    string `json:"key,omitempty" jsonschema:"one key to read"`
		Prefix string `json:"prefix,omitempty" jsonschema:"read every key with this prefix (omit both to read all)"`
	}
	forgetArgs struct {
		Key string `json:"key" jsonschema:"memory key to delete"`
	}
	sendSignalArgs struct {
		Topic      string `json:"topic" jsonschema:"signal topic, such as deploys"`
		Message    string `json:"message" jsonschema:"signal text"`
		TTLSeconds int64  `json:"ttl_seconds,omitempty" jsonschema:"lifetime in seconds (default: the registry's signal_ttl_seconds policy)"`
	}
	listSignalsArgs struct {
		Topic string `json:"topic,omitempty" jsonschema:"only signals of this topic"`
		Since string `json:"since,omitempty" jsonschema:"only signals sent after this RFC 3339 time"`
	}
)

// addTools registers every tool. Write tools check the caller's role first.
func (c *capsuleServer) addTools(srv *mcp.Server) {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true}
	addTool(srv, c, "capsule_info", "Describe this capsule and the caller's role.", readOnly, false, c.capsuleInfo)
	addTool(srv, c, "list_entries", "List entries by URI, paginated.", readOnly, false, c.listEntries)
	addTool(srv, c, "read_entry", "Read one entry with its content.", readOnly, false, c.readEntry)
	addTool(srv, c, "search_entries", "Full-text search over entry titles, content and tags, best matches first.", readOnly, false, c.searchEntries)
	addTool(srv, c, "write_entry", "Create or replace an entry. Durable when the call returns.", nil, true, c.writeEntry)
	addTool(srv, c, "delete_entry", "Delete an entry.", nil, true, c.deleteEntry)
	addTool(srv, c, "put_blob", "Store binary data, content-addressed and deduplicated; returns its ref.", nil, true, c.putBlob)
	addTool(srv, c, "get_blob", "Read a blob by ref as an embedded resource.", readOnly, false, c.getBlob)
	addTool(srv, c, "remember", "Store a value in the capsule's key-value memory.", nil, true, c.remember)
	addTool(srv, c, "recall", "Read values from the key-value memory by key or prefix.", readOnly, false, c.recall)
	addTool(srv, c, "forget", "Delete a key from the key-value memory.", nil, true, c.forget)
	addTool(srv, c, "send_signal", "Send a short-lived signal to other agents on a topic.", nil, true, c.sendSignal)
	addTool(srv, c, "list_signals", "List live signals, oldest first.", readOnly, false, c.listSignals)
}

// addTool registers a typed tool whose handler returns a plain result or an
// error. Errors become tool results with isError set, a text message and a
// structured {error_code, error} body.
func addTool[In any](srv *mcp.Server, c *capsuleServer, name, description string, annotations *mcp.ToolAnnotations, write bool,
	handler func(ctx context.Context, agent capauth.Agent, in In) (any, error)) {
	tool := &mcp.Tool{Name: name, Description: description, Annotations: annotations}
	mcp.AddTool(srv, tool, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		agent, ok := agentOf(req.Extra)
		if !ok {
			return c.failure(ctx, &toolError{codeForbidden, "request carries no authenticated agent"}), nil, nil
		}
		if write && !agent.CanWrite() {
			return c.failure(ctx, &toolError{codeForbidden, fmt.Sprintf("%s needs the writer role; this connection is a %s", name, agent.Role)}), nil, nil
		}
		out, err := handler(ctx, agent, in)
		if err != nil {
			return c.failure(ctx, err), nil, nil
		}
		if res, ok := out.(*mcp.CallToolResult); ok {
			return res, nil, nil
		}
		return nil, out, nil
	})
}

// failure turns an error into a tool error result and records its code for
// the audit line.
func (c *capsuleServer) failure(ctx context.Context, err error) *mcp.CallToolResult {
	code, message := codeInternal, "internal error; the daemon log has the details"
	var te *toolError
	var be *box.Error
	switch {
	case errors.As(err, &te):
		code, message = te.code, te.message
	case errors.As(err, &be):
		code, message = be.Code, be.Message
	default:
		c.parent.logger.Error("tool failed", "capsule_id", c.id, "error", err)
	}
	recordErrorCode(ctx, code)
	return &mcp.CallToolResult{
		IsError:           true,
		Content:           []mcp.Content{&mcp.TextContent{Text: code + ": " + message}},
		StructuredContent: map[string]string{"error_code": code, "error": message},
	}
}

func (c *capsuleServer) box() (*box.Box, error) {
	return c.parent.registry.Box(c.id)
}

func (c *capsuleServer) capsuleInfo(_ context.Context, agent capauth.Agent, _ noArgs) (any, error) {
	capsule := c.parent.capsule(c.id)
	if capsule == nil {
		return nil, &toolError{box.CodeNotFound, "capsule " + c.id + " no longer exists"}
	}
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	entries, blobBytes := b.Stats()
	return map[string]any{
		"id": capsule.ID, "name": capsule.Name, "role": agent.Role,
		"entry_count": entries, "blob_bytes": blobBytes, "expires_at": capsule.ExpiresAt,
	}, nil
}

func (c *capsuleServer) listEntries(_ context.Context, _ capauth.Agent, in listEntriesArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	metas, next, err := b.ListEntries(in.Prefix, in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"entries": metas}
	if next != "" {
		out["next_cursor"] = next
	}
	return out, nil
}

func (c *capsuleServer) readEntry(_ context.Context, _ capauth.Agent, in readEntryArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	entry, err := b.ReadEntry(in.URI)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"uri": entry.URI, "content": entry.Content, "content_type": entry.ContentType, "tags": entry.Tags,
		"version": entry.Version, "updated_at": entry.UpdatedAt, "updated_by": entry.UpdatedBy,
	}, nil
}

func (c *capsuleServer) searchEntries(_ context.Context, _ capauth.Agent, in searchEntriesArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	hits, err := b.Search(in.Query, in.Prefix, in.Limit)
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []box.Hit{}
	}
	return map[string]any{"hits": hits}, nil
}

func (c *capsuleServer) writeEntry(_ context.Context, agent capauth.Agent, in writeEntryArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	entry, err := b.WriteEntry(box.WriteRequest{
		URI: in.URI, Content: in.Content, ContentType: in.ContentType, Tags: in.Tags,
		IfVersion: in.IfVersion, UpdatedBy: agent.ConnectionID,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"uri": entry.URI, "version": entry.Version}, nil
}

func (c *capsuleServer) deleteEntry(_ context.Context, _ capauth.Agent, in deleteEntryArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	if err := b.DeleteEntry(in.URI, in.IfVersion); err != nil {
		return nil, err
	}
	return map[string]any{"uri": in.URI, "deleted": true}, nil
}

func (c *capsuleServer) putBlob(_ context.Context, _ capauth.Agent, in putBlobArgs) (any, error) {
	data, err := base64.StdEncoding.DecodeString(in.DataBase64)
	if err != nil {
		return nil, &toolError{box.CodeInvalidRequest, "data_base64 is not standard base64: " + err.Error()}
	}
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	ref, size, err := b.PutBlob(data, in.ContentType)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ref": ref, "size": size}, nil
}

func (c *capsuleServer) getBlob(_ context.Context, _ capauth.Agent, in getBlobArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	data, contentType, err := b.GetBlob(in.Ref)
	if err != nil {
		return nil, err
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.EmbeddedResource{
		Resource: &mcp.ResourceContents{URI: in.Ref, MIMEType: contentType, Blob: data},
	}}}, nil
}

func (c *capsuleServer) remember(_ context.Context, _ capauth.Agent, in rememberArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	if err := b.Remember(in.Key, in.Value); err != nil {
		return nil, err
	}
	return map[string]any{"key": in.Key, "stored": true}, nil
}

func (c *capsuleServer) recall(_ context.Context, _ capauth.Agent, in recallArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	values, err := b.Recall(in.Key, in.Prefix)
	if err != nil {
		return nil, err
	}
	return map[string]any{"values": values}, nil
}

func (c *capsuleServer) forget(_ context.Context, _ capauth.Agent, in forgetArgs) (any, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	if err := b.Forget(in.Key); err != nil {
		return nil, err
	}
	return map[string]any{"key": in.Key, "forgotten": true}, nil
}

func (c *capsuleServer) sendSignal(_ context.Context, _ capauth.Agent, in sendSignalArgs) (any, error) {
	if in.TTLSeconds < 0 {
		return nil, &toolError{box.CodeInvalidRequest, fmt.Sprintf("ttl_seconds %d is negative; omit it for the default or pass a positive number", in.TTLSeconds)}
	}
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(in.TTLSeconds) * time.Second
	if ttl == 0 {
		ttl = time.Duration(c.parent.registry.Store.Policy.Get().SignalTTLSeconds) * time.Second
	}
	uri, expiresAt, err := b.SendSignal(in.Topic, in.Message, ttl)
	if err != nil {
		return nil, err
	}
	return map[string]any{"uri": uri, "expires_at": expiresAt}, nil
}

func (c *capsuleServer) listSignals(_ context.Context, _ capauth.Agent, in listSignalsArgs) (any, error) {
	var since time.Time
	if in.Since != "" {
		parsed, err := time.Parse(time.RFC3339Nano, in.Since)
		if err != nil {
			return nil, &toolError{box.CodeInvalidRequest, fmt.Sprintf("since %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", in.Since)}
		}
		since = parsed
	}
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	signals, err := b.ListSignals(in.Topic, since)
	if err != nil {
		return nil, err
	}
	if signals == nil {
		signals = []box.Signal{}
	}
	return map[string]any{"signals": signals}, nil
}

func agentOf(extra *mcp.RequestExtra) (capauth.Agent, bool) {
	if extra == nil || extra.TokenInfo == nil {
		return capauth.Agent{}, false
	}
	agent, ok := extra.TokenInfo.Extra[identityKey].(capauth.Agent)
	return agent, ok
}
