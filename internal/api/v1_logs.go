package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/ids"
)

// Number of capsule log entries returned without and with a limit
// parameter.
const (
	DefaultLogLimit = 1000
	MaxLogLimit     = 10000
)

// capsuleLogs returns the newest matching lines of a capsule's audit log,
// newest last, each exactly as stored.
func (s *Server) capsuleLogs(c *gin.Context) {
	filter := auditlog.Filter{Date: c.Query("date"), Limit: DefaultLogLimit}

	if since := c.Query("since"); since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("since %q is not an RFC 3339 time; send a time such as 2025-01-31T14:00:00Z", since))
			return
		}
		filter.Since = t
	}

	connectionID, ok := queryID(c, "connection_id", ids.Connection)
	if !ok {
		return
	}
	filter.ConnectionID = connectionID

	if limit := c.Query("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLogLimit {
			writeError(c, http.StatusBadRequest, "invalid_request",
				fmt.Sprintf("limit %q is invalid; send a whole number from 1 to %d", limit, MaxLogLimit))
			return
		}
		filter.Limit = n
	}

	entries, err := s.Registry.ReadCapsuleLog(c.Param("id"), filter)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries})
}
