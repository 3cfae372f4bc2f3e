package cli

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// outputFormat returns the explicit format, or table on a terminal and
// json otherwise.
func outputFormat(explicit string, w io.Writer) string {
	if explicit != "" {
		return explicit
	}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return "table"
	}
	return "json"
}
