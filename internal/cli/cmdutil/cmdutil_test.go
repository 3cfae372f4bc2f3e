package cmdutil

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20},
		{"50MB", 50_000_000},
		{"1GB", 1_000_000_000},
		{"1gib", 1 << 30},
		{"512KiB", 512 << 10},
		{"1.5 GB", 1_500_000_000},
		{"1TiB", 1 << 40},
		{"10B", 10},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "lots", "-1GB", "0", "GB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 50_100_000: "50.1 MB", 1 << 40: "1.1 TB"}
	for in, want := range tests {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestPluralize(t *testing.T) {
	tests := map[int]string{0: "0 entries", 1: "1 entry", 2: "2 entries", 1000: "1000 entries"}
	for n, want := range tests {
		if got := Pluralize(n, "entry", "entries"); got != want {
			t.Errorf("Pluralize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestOutputFormatDefaultsToJSONOffTerminal(t *testing.T) {
	got, err := OutputFormat("", &bytes.Buffer{})
	if err != nil || got != FormatJSON {
		t.Errorf("got %q, %v; want json", got, err)
	}
	var exitErr *ExitError
	if _, err := OutputFormat("yaml", &bytes.Buffer{}); !errors.As(err, &exitErr) || exitErr.Code != ExitUsage {
		t.Errorf("an invalid format returned %v, want a usage error", err)
	}
}

func TestAdminKeySources(t *testing.T) {
	home := t.TempDir()
	newCmd := func() *cobra.Command {
		cmd := &cobra.Command{}
		cmd.Flags().String("key", "", "")
		return cmd
	}
	t.Setenv("CAPSOL_ADMIN_KEY", "")

	var exitErr *ExitError
	if _, err := AdminKey(newCmd(), "", home); !errors.As(err, &exitErr) || exitErr.Code != ExitAuth || !strings.Contains(err.Error(), "admin.key") {
		t.Errorf("without any key: %v", err)
	}

	if err := os.WriteFile(filepath.Join(home, "admin.key"), []byte("from-the-key-file-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := AdminKey(newCmd(), "", home); err != nil || got != "from-the-key-file-0123" {
		t.Errorf("key file: got %q, %v", got, err)
	}

	t.Setenv("CAPSOL_ADMIN_KEY", "from-the-environment-0123")
	if got, _ := AdminKey(newCmd(), "", home); got != "from-the-environment-0123" {
		t.Errorf("environment: got %q", got)
	}

	cmd := newCmd()
	if err := cmd.Flags().Set("key", "from-the-flag-0123456"); err != nil {
		t.Fatal(err)
	}
	if got, _ := AdminKey(cmd, "from-the-flag-0123456", home); got != "from-the-flag-0123456" {
		t.Errorf("flag: got %q", got)
	}
}
