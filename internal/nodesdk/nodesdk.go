// Package nodesdk runs the scripts in e2e/tsclient, which drive a capsol
// daemon with the official MCP TypeScript SDK, and collects the JSON lines
// they print. Tests of several packages use it.
package nodesdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Dir returns the Node project of the TypeScript SDK scripts.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "e2e", "tsclient")
}

// Run executes script with node in Dir and returns its output lines keyed
// by their "step" field. It fails the test when node or the installed SDK
// is missing, when the script exits non-zero, or when a line is not JSON.
func Run(t *testing.T, script string, env ...string) map[string]map[string]any {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required for the TypeScript SDK tests; install Node.js 20 or newer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", "@modelcontextprotocol", "sdk")); err != nil {
		t.Fatalf("the TypeScript SDK is not installed; run: npm ci --prefix e2e/tsclient (make test does it): %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			stderr = string(exitErr.Stderr)
		}
		t.Fatalf("node %s failed: %v\nstdout:\n%s\nstderr:\n%s", script, err, out, stderr)
	}

	steps := map[string]map[string]any{}
	scanner := bufio.NewScanner(strings.NewReader(string(out)))
	for scanner.Scan() {
		var line map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &line); err != nil {
			t.Fatalf("node %s printed a line that is not JSON: %q", script, scanner.Text())
		}
		step, _ := line["step"].(string)
		steps[step] = line
	}
	return steps
}
