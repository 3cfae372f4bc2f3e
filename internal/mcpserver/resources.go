package mcpserver

import (
	"context"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/capsol/capsol/internal/box"
)

// notesTemplate is the resource template every notes:// entry matches.
const notesTemplate = "notes://{+path}"

// resourcesPageSize is the number of entries per resources/list page.
const resourcesPageSize = 500

// addResources registers the notes:// template. Entries of other schemes
// are listed and read through resourceMiddleware, which serves
// resources/list and resources/read from the box for every scheme.
func (c *capsuleServer) addResources(srv *mcp.Server) {
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "note",
		Title:       "Capsule entry",
		Description: "An entry of this capsule, addressed by its notes:// URI.",
		URITemplate: notesTemplate,
	}, func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return c.readResource(req.Params.URI)
	})
}

// resourceMiddleware serves resources/list from the box, paginated, and
// resources/read for any entry URI, because entries are created at run time
// and the SDK only lists resources registered up front.
func (c *capsuleServer) resourceMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "resources/list":
			list, ok := req.(*mcp.ListResourcesRequest)
			if !ok {
				break
			}
			cursor := ""
			if list.Params != nil {
				cursor = list.Params.Cursor
			}
			return c.listResources(ctx, cursor)
		case "resources/read":
			read, ok := req.(*mcp.ReadResourceRequest)
			if !ok || read.Params == nil {
				break
			}
			return c.readResource(read.Params.URI)
		}
		return next(ctx, method, req)
	}
}

func (c *capsuleServer) listResources(ctx context.Context, cursor string) (*mcp.ListResourcesResult, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	metas, next, err := b.ListEntries("", cursor, resourcesPageSize)
	if err != nil {
		recordErrorCode(ctx, box.ErrorCode(err))
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	res := &mcp.ListResourcesResult{Resources: make([]*mcp.Resource, 0, len(metas)), NextCursor: next}
	for _, m := range metas {
		name := m.Title
		if name == "" {
			name = m.URI
		}
		res.Resources = append(res.Resources, &mcp.Resource{URI: m.URI, Name: name, Title: m.Title, Size: m.Size})
	}
	return res, nil
}

func (c *capsuleServer) readResource(uri string) (*mcp.ReadResourceResult, error) {
	b, err := c.box()
	if err != nil {
		return nil, err
	}
	entry, err := b.ReadEntry(uri)
	if errors.Is(err, box.ErrNotFound) || errors.Is(err, box.ErrInvalidURI) {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err != nil {
		return nil, err
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
		{URI: entry.URI, MIMEType: entry.ContentType, Text: entry.Content},
	}}, nil
}
