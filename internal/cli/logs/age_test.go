package logs

import (
	"testing"
	"time"
)

func TestParseAgeUnits(t *testing.T) {
	cases := map[string]time.Duration{
		"90d": 90 * 24 * time.Hour,
		"12w": 12 * 7 * 24 * time.Hour,
		"36h": 36 * time.Hour,
	}
	for input, want := range cases {
		got, err := ParseAge(input)
		if err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; expected %v", input, got, err, want)
		}
	}
}

func TestParseAgeRejectsOverflow(t *testing.T) {
	for _, input := range []string{"213505d", "100000000d", "9999999999w", "0d", "-3d", "soon"} {
		if got, err := ParseAge(input); err == nil {
			t.Errorf("ParseAge(%q) = %v, expected an error", input, got)
		}
	}
}
