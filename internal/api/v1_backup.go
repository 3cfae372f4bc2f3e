package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/backup"
)

// registerBackup adds GET /backup, which streams a snapshot of the data
// directory as application/gzip (see backup.Snapshot). r must be the /v1
// group behind the admin key check: the archive holds all capsule content.
func (s *Server) registerBackup(r gin.IRoutes) {
	r.GET("/backup", s.backup)
}

func (s *Server) backup(c *gin.Context) {
	started := time.Now()
	name := "capsol-backup-" + started.Format("20060102-150405") + ".tgz"
	w := &backupResponse{c: c, filename: name}

	res, err := backup.Snapshot(w, s.Store, backup.Options{
		Warn: func(message string) { s.Logger.Warn("backup warning", "warning", message) },
	})
	if err != nil && !w.started {
		s.Logger.Error("backup failed", "error", err)
		abortError(c, http.StatusInternalServerError, "internal", "backup failed: "+err.Error())
		return
	}
	if err != nil {
		// The status line is sent, so the only way to tell the client is
		// to end the stream without its last chunk: it then reads an
		// unexpected EOF and the gzip stream fails its check.
		s.Logger.Error("backup failed while streaming; closing the connection", "error", err, "archive_bytes", w.written)
		c.Abort()
		if conn, _, hijackErr := c.Writer.Hijack(); hijackErr == nil {
			_ = conn.Close()
		}
		return
	}
	s.audit(c, "backup", "", map[string]any{"files": res.Files, "archive_bytes": res.ArchiveBytes})
	s.Logger.Info("backup streamed", "files", res.Files, "bytes", res.Bytes, "archive_bytes", res.ArchiveBytes,
		"barrier_ms", float64(res.Barrier.Microseconds())/1000, "duration_ms", time.Since(started).Milliseconds())
}

// backupResponse sends the response headers with the first archive bytes,
// so that a snapshot that fails before writing can still respond with a
// JSON error.
type backupResponse struct {
	c        *gin.Context
	filename string
	started  bool
	written  int64
}

func (w *backupResponse) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		header := w.c.Writer.Header()
		header.Set("Content-Type", "application/gzip")
		header.Set("Content-Disposition", `attachment; filename="`+w.filename+`"`)
		header.Set("Cache-Control", "no-store")
		w.c.Status(http.StatusOK)
	}
	n, err := w.c.Writer.Write(p)
	w.written += int64(n)
	return n, err
}
