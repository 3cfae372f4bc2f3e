package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	completioncmd "github.com/capsol/capsol/internal/cli/completion"
	"github.com/capsol/capsol/internal/version"
)

// ManDate is the date in the title line of the man pages. It is fixed, so
// that generating the pages again changes them only when the commands
// change; move it forward when a release changes the commands.
var ManDate = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

// CompletionFiles maps each shell to the file name of its completion
// script in the completions directory, as the shells' packaging
// conventions name them.
var CompletionFiles = map[string]string{
	"bash":       "capsol.bash",
	"zsh":        "_capsol",
	"fish":       "capsol.fish",
	"powershell": "capsol.ps1",
}

// WriteCompletions writes the completion script of every shell into dir.
func WriteCompletions(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	root := NewRootCommand(io.Discard, io.Discard)
	for _, shell := range completioncmd.Shells {
		path := filepath.Join(dir, CompletionFiles[shell])
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		writeErr := completioncmd.Write(root, shell, f)
		closeErr := f.Close()
		if writeErr != nil {
			return fmt.Errorf("write %s: %w", path, writeErr)
		}
		if closeErr != nil {
			return fmt.Errorf("write %s: %w", path, closeErr)
		}
	}
	return nil
}

// WriteManPages writes a man page of section 1 for capsol and each of its
// commands into dir, such as capsol-connections-revoke.1. It first
// removes the capsol*.1 pages in dir, so a removed command leaves no page.
func WriteManPages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "capsol*.1"))
	if err != nil {
		return err
	}
	for _, page := range old {
		if err := os.Remove(page); err != nil {
			return fmt.Errorf("remove the old man page %s: %w", page, err)
		}
	}
	root := NewRootCommand(io.Discard, io.Discard)
	root.DisableAutoGenTag = true
	escapeForMarkdown(root)
	date := ManDate
	header := &doc.GenManHeader{
		Title:   "CAPSOL",
		Section: "1",
		Source:  "capsol " + version.Version,
		Manual:  "capsol manual",
		Date:    &date,
	}
	if err := doc.GenManTree(root, header, dir); err != nil {
		return fmt.Errorf("write the man pages into %s: %w", dir, err)
	}
	return nil
}

// escapeForMarkdown escapes "<" in the descriptions of cmd and its
// subcommands. The man pages are rendered from Markdown, where
// <connection_id> would be an HTML tag and vanish from the page.
func escapeForMarkdown(cmd *cobra.Command) {
	cmd.Short = strings.ReplaceAll(cmd.Short, "<", `\<`)
	cmd.Long = strings.ReplaceAll(cmd.Long, "<", `\<`)
	for _, sub := range cmd.Commands() {
		escapeForMarkdown(sub)
	}
}
