package cmdutil

import (
	"bytes"
	"strings"
	"testing"
)

func TestTableWithoutColor(t *testing.T) {
	var out bytes.Buffer
	p := Printer{Out: &out, Format: FormatTable}
	err := p.Table([]string{"id", "last used"}, [][]string{{"con_1", "never"}, {"con_22", ""}})
	if err != nil {
		t.Fatal(err)
	}
	want := "ID      LAST USED\ncon_1   never\ncon_22\n"
	if out.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", out.String(), want)
	}
	if p.Status("revoked") != "revoked" {
		t.Error("Status styles the word without colour")
	}
}

func TestPrintJSONKeepsURLs(t *testing.T) {
	var out bytes.Buffer
	p := Printer{Out: &out, Format: FormatJSON}
	if err := p.PrintJSON(map[string]string{"url": "http://x/mcp?a=1&b=<2>"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"http://x/mcp?a=1&b=<2>"`) {
		t.Errorf("JSON escaped the URL: %s", out.String())
	}
}
