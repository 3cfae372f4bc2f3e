package cmdutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runGlobals parses args on a root with the global flags and returns the
// Factory after parsing.
func runGlobals(t *testing.T, args ...string) *Factory {
	t.Helper()
	f := NewFactory(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	root := &cobra.Command{Use: "capsol", RunE: func(*cobra.Command, []string) error { return nil }}
	f.BindGlobalFlags(root)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f
}

func TestGlobalFlagBeatsEnvironment(t *testing.T) {
	t.Setenv("CAPSOL_URL", "http://from-env:4000/")
	t.Setenv("CAPSOL_ADMIN_KEY", "admin-key-from-environment")

	f := runGlobals(t, "--server", "http://from-flag:4001/", "--key", "admin-key-from-the-flag")
	if got := f.ServerURL(); got != "http://from-flag:4001" {
		t.Errorf("ServerURL = %q, want the flag without its trailing slash", got)
	}
	if got, _ := f.AdminKey(); got != "admin-key-from-the-flag" {
		t.Errorf("AdminKey = %q, want the flag", got)
	}

	f = runGlobals(t)
	if got := f.ServerURL(); got != "http://from-env:4000" {
		t.Errorf("ServerURL = %q, want CAPSOL_URL", got)
	}
	if got, _ := f.AdminKey(); got != "admin-key-from-environment" {
		t.Errorf("AdminKey = %q, want CAPSOL_ADMIN_KEY", got)
	}
}

func TestGlobalDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("CAPSOL_URL", "")
	t.Setenv("CAPSOL_ADMIN_KEY", "")
	t.Setenv("CAPSOL_DATA_DIR", "")
	t.Setenv("CAPSOL_HOME", home)
	if err := os.WriteFile(filepath.Join(home, "admin.key"), []byte("admin-key-in-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())

	f := runGlobals(t)
	if got := f.ServerURL(); got != DefaultServer {
		t.Errorf("ServerURL = %q, want %s without a lock file", got, DefaultServer)
	}
	if got, err := f.AdminKey(); err != nil || got != "admin-key-in-the-file" {
		t.Errorf("AdminKey = %q, %v; want the content of $CAPSOL_HOME/admin.key", got, err)
	}
	if got := f.DataDir(); filepath.Base(got) != "registry-data" || !filepath.IsAbs(got) {
		t.Errorf("DataDir = %q, want an absolute ./registry-data", got)
	}
	if got := f.Home(); got != home {
		t.Errorf("Home = %q, want CAPSOL_HOME %s", got, home)
	}
}

func TestOutputFlagAndColor(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	f := runGlobals(t, "-o", "table")
	if got, err := f.Format(); err != nil || got != FormatTable {
		t.Errorf("Format = %q, %v; want table", got, err)
	}
	if f.Color() {
		t.Error("Color is on although stdout is not a terminal")
	}

	f = runGlobals(t, "--output", "yaml")
	if _, err := f.Format(); err == nil {
		t.Error("--output yaml was accepted")
	}

	f = runGlobals(t)
	if got, _ := f.Format(); got != FormatJSON {
		t.Errorf("Format = %q off a terminal, want json", got)
	}
}
