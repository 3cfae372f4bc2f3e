// Package mcpconfig builds the MCP client configuration snippets that
// capsol shares create and capsol enrollments print: an "mcpServers" entry
// for one capsule with its credential.
package mcpconfig

import (
	"strings"

	"github.com/capsol/capsol/internal/cli/cmdutil"
)

// Config is an MCP client configuration file with one server, in the
// "mcpServers" format that Claude Code (.mcp.json), Claude Desktop,
// Cursor and Windsurf read.
type Config struct {
	MCPServers map[string]Server `json:"mcpServers"`
}

// Server is one remote MCP server reached over Streamable HTTP.
type Server struct {
	Type    string            `json:"type"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

// New returns the configuration of the capsule at mcpURL with credential,
// under a server name made from label.
func New(label, mcpURL, credential string) Config {
	return Config{MCPServers: map[string]Server{
		ServerName(label): {
			Type:    "http",
			URL:     mcpURL,
			Headers: map[string]string{"Authorization": "Bearer " + credential},
		},
	}}
}

// ServerName turns a label into a server name of lowercase letters,
// digits, "-" and "_", which every client accepts as a key. An empty
// result is "capsol".
func ServerName(label string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(label) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimRight(b.String(), "-")
	if name == "" {
		return "capsol"
	}
	return name
}

// Print writes config as JSON with a heading, and the same server as a
// claude mcp add command.
func Print(p cmdutil.Printer, config Config, label, mcpURL, credential string) error {
	p.Println("Client configuration (an mcpServers entry for .mcp.json, Cursor and other clients):")
	if err := cmdutil.WriteJSON(p.Out, config); err != nil {
		return err
	}
	p.Println("\nOr, for Claude Code:")
	p.Printf("  claude mcp add --transport http %s %s --header \"Authorization: Bearer %s\"\n", ServerName(label), mcpURL, credential)
	return nil
}
