package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/backup"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// newBackupServer serves registerBackup on a fresh data directory.
func newBackupServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Initialize(dir); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	m := metrics.New()
	s := &Server{Store: st, Logger: logger, Metrics: m, Registry: registry.New(st, logger, m, "")}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	s.registerBackup(engine)
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	return srv, dir
}

func TestBackupRouteStreamsSnapshot(t *testing.T) {
	srv, _ := newBackupServer(t)

	resp, err := http.Get(srv.URL + "/backup")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/gzip" {
		t.Errorf("Content-Type %q, want application/gzip", got)
	}
	report, err := backup.VerifyReader(resp.Body, backup.VerifyOptions{})
	if err != nil {
		t.Fatalf("VerifyReader: %v", err)
	}
	if !report.Manifest || report.Base != "registry-data" {
		t.Errorf("report %+v", report)
	}
}

func TestBackupRouteReportsFailureAsJSON(t *testing.T) {
	srv, dir := newBackupServer(t)
	if err := os.Remove(filepath.Join(dir, store.MetaFile)); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(srv.URL + "/backup")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	var e ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != "internal" {
		t.Errorf("body %s, want a JSON error with error_code internal", body)
	}
}
