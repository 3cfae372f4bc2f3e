package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
)

// TestReloadAdminKeyInProcess checks what the binary cannot show yet,
// because no HTTP route takes the admin key: after a reload the daemon
// accepts the new key and rejects the old one, and a rejected reload keeps
// the key in effect. TestSIGHUPReloadsAdminKey covers the signal itself.
func TestReloadAdminKeyInProcess(t *testing.T) {
	t.Parallel()
	home := filepath.Join(t.TempDir(), "capsol-home")
	cfg := config.Config{
		DataDir: filepath.Join(t.TempDir(), "data"),
		Port:    freePort(t),
		Listen:  "127.0.0.1",
		Env:     config.Development,
		Home:    home,
	}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	keyFile := filepath.Join(home, "admin.key")
	generated, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKey := strings.TrimSpace(string(generated))
	oldSession := d.AdminKey.SessionValue()
	if !d.AdminKey.Verify(oldKey) {
		t.Fatal("the daemon rejects the admin key it generated")
	}

	const newKey = "e2e-rotated-admin-key-0123456789"
	writeFile(t, keyFile, newKey+"\n")
	if err := d.ReloadAdminKey(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !d.AdminKey.Verify(newKey) {
		t.Error("the new admin key is rejected after the reload")
	}
	if d.AdminKey.Verify(oldKey) {
		t.Error("the old admin key is still accepted after the reload")
	}
	if d.AdminKey.SessionValue() == oldSession {
		t.Error("the dashboard session value did not change, so old break-glass sessions would survive")
	}

	writeFile(t, keyFile, "e2eShort\n")
	if err := d.ReloadAdminKey(); err == nil {
		t.Error("a reload of an 8-byte admin key succeeded")
	}
	if !d.AdminKey.Verify(newKey) {
		t.Error("a rejected reload replaced the admin key in effect")
	}
}
