package cmdutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// TimeLayout is the time format of tables: UTC to the minute, so a table
// reads the same in every time zone.
const TimeLayout = "2006-01-02 15:04"

// Printer writes a command's result to stdout: a table, styled with
// lipgloss when Color is set, or indented JSON.
type Printer struct {
	Out    io.Writer
	Format string // FormatTable or FormatJSON
	Color  bool
}

// JSON reports whether the result is printed as JSON.
func (p Printer) JSON() bool { return p.Format == FormatJSON }

// PrintJSON writes v as indented JSON with a final newline. HTML
// characters are not escaped, so URLs and labels keep their bytes.
func (p Printer) PrintJSON(v any) error {
	return WriteJSON(p.Out, v)
}

// WriteJSON writes v to w as indented JSON with a final newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Table writes rows under header as aligned columns without borders. The
// header is upper case and, with colour, bold. Trailing spaces are cut
// from each line.
func (p Printer) Table(header []string, rows [][]string) error {
	var buf bytes.Buffer
	table := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Lines: tw.LinesNone, Separators: tw.SeparatorsNone},
		})),
		// Upper-casing here would also upper-case the ANSI codes of a
		// styled header, so the header is upper-cased below instead.
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "  ", Overwrite: true}),
	)
	titles := make([]string, len(header))
	for i, h := range header {
		titles[i] = p.Bold(strings.ToUpper(h))
	}
	table.Header(titles)
	for _, row := range rows {
		if err := table.Append(row); err != nil {
			return fmt.Errorf("render table: %w", err)
		}
	}
	if err := table.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}

	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	for i, line := range lines {
		lines[i] = strings.TrimRight(line, " ")
	}
	_, err := io.WriteString(p.Out, strings.Join(lines, "\n")+"\n")
	return err
}

// Println writes one line of text.
func (p Printer) Println(a ...any) {
	fmt.Fprintln(p.Out, a...)
}

// Printf writes formatted text.
func (p Printer) Printf(format string, a ...any) {
	fmt.Fprintf(p.Out, format, a...)
}

func (p Printer) style() lipgloss.Style {
	return lipgloss.NewRenderer(p.Out).NewStyle()
}

// Terminal colours of the ANSI palette, which every terminal theme maps
// to readable shades.
const (
	colorGreen  = lipgloss.Color("2")
	colorYellow = lipgloss.Color("3")
	colorRed    = lipgloss.Color("1")
	colorGray   = lipgloss.Color("8")
)

// Status returns a status word, coloured by what it means for access when
// colour is on: green grants access, yellow waits on someone, red and grey
// end it.
func (p Printer) Status(status string) string {
	if !p.Color || status == "" {
		return status
	}
	var color lipgloss.Color
	switch status {
	case "active", "approved", "ok", "ready", "OK":
		color = colorGreen
	case "paused", "pending", "starting":
		color = colorYellow
	case "revoked", "disabled", "BROKEN", "FAILED", "stopping", "denied", "error":
		color = colorRed
	case "expired", "exhausted":
		color = colorGray
	default:
		return status
	}
	return p.style().Foreground(color).Render(status)
}

// Bold returns s in bold when colour is on.
func (p Printer) Bold(s string) string {
	if !p.Color {
		return s
	}
	return p.style().Bold(true).Render(s)
}

// FormatTime returns t in TimeLayout, UTC.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// FormatTimePtr returns *t in TimeLayout, or never for a nil t.
func FormatTimePtr(t *time.Time, never string) string {
	if t == nil {
		return never
	}
	return FormatTime(*t)
}

// Deref returns *s, or def for a nil s.
func Deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
