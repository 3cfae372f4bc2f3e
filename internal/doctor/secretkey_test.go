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
