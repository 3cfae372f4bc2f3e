package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// findings returns the findings of one check.
func findings(r Report, check string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestSecretKeyCheck(t *testing.T) {
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
	oldKey := strings.Repeat("o", 40)
	cipher, err := registry.NewSettingsCipher([]byte(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := cipher.Encrypt("smtp://mail.example:25")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Settings.Update(func(s *store.Settings) error { s.SMTPURL = &sealed; return nil }); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		key      string
		severity string
	}{
		{"key that encrypted it", oldKey, OK},
		{"rotated key", strings.Repeat("n", 40), Problem},
		{"no key set", "", Warning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := findings(Run(Options{DataDir: dir, Home: t.TempDir(), SecretKey: tc.key}), "secret_key")
			if len(got) != 1 {
				t.Fatalf("secret_key findings = %+v, expected one", got)
			}
			if got[0].Severity != tc.severity {
				t.Errorf("severity = %s (%s), expected %s", got[0].Severity, got[0].Message, tc.severity)
			}
			if strings.Contains(got[0].Message+got[0].Fix, "mail.example") {
				t.Errorf("the finding shows the decrypted value: %+v", got[0])
			}
		})
	}
}

func TestBoxesCheckSkippedWithCorruptIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Initialize(dir); err != nil {
		t.Fatal(err)
	}
	box := filepath.Join(dir, store.BoxesDir, "cap_01hq3z9x8k7m6n5p4r3s2t1v0w", ".capsol")
	if err := os.MkdirAll(box, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, store.CapsulesFile), []byte(`{"capsules": [`), 0o600); err != nil {
		t.Fatal(err)
	}

	report := Run(Options{DataDir: dir, Home: t.TempDir()})
	if got := findings(report, "boxes"); len(got) != 0 {
		t.Errorf("boxes findings with an unreadable capsules.json = %+v, expected none", got)
	}
	corrupt := false
	for _, f := range findings(report, "index") {
		if f.Severity == Problem && strings.HasSuffix(f.Subject, store.CapsulesFile) {
			corrupt = true
		}
	}
	if !corrupt {
		t.Error("the index check does not name the corrupt capsules.json")
	}
}

func TestOrphanFixCreatesDeletedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry-data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := store.Initialize(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, store.BoxesDir, "cap_01hq3z9x8k7m6n5p4r3s2t1v0w"), 0o700); err != nil {
		t.Fatal(err)
	}

	got := findings(Run(Options{DataDir: dir, Home: t.TempDir()}), "boxes")
	if len(got) != 1 || got[0].Severity != Warning {
		t.Fatalf("boxes findings = %+v, expected one warning", got)
	}
	if !strings.Contains(got[0].Fix, "mkdir -p "+filepath.Join(dir, store.BoxesDir, ".deleted")) {
		t.Errorf("fix %q does not create boxes/.deleted before moving the box", got[0].Fix)
	}
}
