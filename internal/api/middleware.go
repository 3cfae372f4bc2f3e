package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// observeRequests counts every request by route and status and logs one
// line per request that failed.
func (s *Server) observeRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		started := time.Now()
		c.Next()

		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		s.Metrics.Requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		if status < 400 {
			return
		}
		attrs := []any{
			"method", c.Request.Method, "route", route, "status", status,
			"duration_ms", time.Since(started).Milliseconds(), "remote_addr", c.ClientIP(),
		}
		if code, ok := c.Get("error_code"); ok {
			attrs = append(attrs, "error_code", code)
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, "error", c.Errors.String())
		}
		if status >= 500 {
			s.Logger.Error("request failed", attrs...)
		} else {
			s.Logger.Info("request rejected", attrs...)
		}
	}
}

func (s *Server) recoverPanics() gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, recovered any) {
		s.Logger.Error("handler panicked", "route", c.FullPath(), "panic", fmt.Sprint(recovered))
		abortError(c, http.StatusInternalServerError, "internal", "internal error; the daemon log has the details")
	})
}

// limitBody rejects bodies over the limit with 413 before reading them in
// full: at once when Content-Length is over the limit, otherwise when the
// reader passes it. MCP requests under /mcp/ get MaxMCPBodyBytes, and
// everything else MaxBodyBytes.
func limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := int64(MaxBodyBytes)
		if strings.HasPrefix(c.Request.URL.Path, "/mcp/") {
			limit = MaxMCPBodyBytes
		}
		if c.Request.ContentLength > limit {
			abortError(c, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("request body is %d bytes, the limit is %d", c.Request.ContentLength, limit))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
}

// IsTooLarge reports whether err came from a body over its limit.
func IsTooLarge(err error) bool {
	var maxErr *http.MaxBytesError
	return errors.As(err, &maxErr)
}
