// Package e2e runs the real capsol and capsold binaries against temporary
// data directories and checks their exit statuses, the JSON boot failure on
// stderr, the health endpoints and the files on disk.
//
// TestMain builds both binaries once. Every test gets its own CAPSOL_HOME,
// CAPSOL_DATA_DIR and HOME under t.TempDir(), a free PORT, and an
// environment that contains nothing else but PATH, so no CAPSOL_* variable
// of the developer's shell leaks in.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the binaries built by TestMain.
var (
	capsolBin  string
	capsoldBin string
)

// Timeouts of one process. Boot takes milliseconds, so these only bound a
// hang.
const (
	readyTimeout = 15 * time.Second
	exitTimeout  = 15 * time.Second
	pollInterval = 20 * time.Millisecond
)

// bootFailureExit is the exit status of every boot failure (EX_CONFIG).
const bootFailureExit = 78

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	binDir, err := os.MkdirTemp("", "capsol-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: create the binary directory:", err)
		return 1
	}
	defer os.RemoveAll(binDir)

	// The package directory is <module>/e2e, so the module root is "..".
	build := exec.Command("go", "build", "-o", binDir+string(filepath.Separator), "./cmd/capsol", "./cmd/capsold")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/capsol ./cmd/capsold failed: %v\n%s", err, out)
		return 1
	}
	capsolBin = filepath.Join(binDir, "capsol")
	capsoldBin = filepath.Join(binDir, "capsold")
	return m.Run()
}

// env is the complete environment of a process started by a test.
type env map[string]string

// newEnv returns PATH, a private HOME, CAPSOL_HOME and CAPSOL_DATA_DIR under
// a new t.TempDir() (neither directory exists yet, so the daemon creates
// them) and a free PORT.
func newEnv(t *testing.T) env {
	t.Helper()
	root := t.TempDir()
	return env{
		"PATH":            os.Getenv("PATH"),
		"HOME":            filepath.Join(root, "user-home"),
		"CAPSOL_HOME":     filepath.Join(root, "capsol-home"),
		"CAPSOL_DATA_DIR": filepath.Join(root, "data"),
		"PORT":            strconv.Itoa(freePort(t)),
	}
}

// with returns a copy of e with key set to value.
func (e env) with(key, value string) env {
	out := make(env, len(e)+1)
	for k, v := range e {
		out[k] = v
	}
	out[key] = value
	return out
}

// without returns a copy of e without key.
func (e env) without(key string) env {
	out := e.with(key, "")
	delete(out, key)
	return out
}

func (e env) list() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func (e env) port(t *testing.T) int {
	t.Helper()
	port, err := strconv.Atoi(e["PORT"])
	if err != nil {
		t.Fatalf("PORT %q in the test environment is not a number", e["PORT"])
	}
	return port
}

// freePort returns a TCP port that was free on 127.0.0.1 an instant ago.
// Another process may take it before the daemon binds it, but the kernel
// picks it from the whole ephemeral range (32768-60999 by default on
// Linux), so a clash is unlikely.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func localURL(port int) string {
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// syncBuffer is a bytes.Buffer that a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// process is one started binary. t.Cleanup kills it if it still runs.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	state  *os.ProcessState
}

// start runs binary with args in the current directory.
func start(t *testing.T, e env, binary string, args ...string) *process {
	t.Helper()
	return startIn(t, "", e, binary, args...)
}

// startIn runs binary with args in dir ("" for the test's directory).
func startIn(t *testing.T, dir string, e env, binary string, args ...string) *process {
	t.Helper()
	p := &process{
		name:   strings.TrimSpace(filepath.Base(binary) + " " + strings.Join(args, " ")),
		cmd:    exec.Command(binary, args...),
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Dir = dir
	p.cmd.Env = e.list()
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()

	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to %s: %v\nstderr:\n%s", sig, p.name, err, p.stderr)
	}
}

// wait returns the exit status once the process ended. It kills the
// process and fails the test when that takes longer than exitTimeout.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %v\nstderr:\n%s", p.name, exitTimeout, p.stderr)
	}
	if status, ok := p.state.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		t.Fatalf("%s was killed by %v\nstderr:\n%s", p.name, status.Signal(), p.stderr)
	}
	return p.state.ExitCode()
}

// stop sends SIGTERM and asserts a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("%s exited with status %d after SIGTERM, expected 0\nstderr:\n%s", p.name, code, p.stderr)
	}
}

// logLine is one JSON log line of the daemon.
type logLine map[string]any

// logs parses the JSON log lines on stderr. Lines that are not JSON
// objects are skipped.
func (p *process) logs() []logLine {
	var out []logLine
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil && l != nil {
			out = append(out, l)
		}
	}
	return out
}

// countLogs counts the log lines whose "msg" is msg.
func (p *process) countLogs(msg string) int {
	n := 0
	for _, l := range p.logs() {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// waitForLog waits until at least count log lines have the message msg and
// returns the last of them.
func (p *process) waitForLog(t *testing.T, msg string, count int) logLine {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		var matches []logLine
		for _, l := range p.logs() {
			if l["msg"] == msg {
				matches = append(matches, l)
			}
		}
		if len(matches) >= count {
			return matches[len(matches)-1]
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("%s logged %q %d time(s), expected %d (exited: %v)\nstderr:\n%s",
				p.name, msg, len(matches), count, p.exited(), p.stderr)
		}
		time.Sleep(pollInterval)
	}
}

// result is the outcome of a process that ran to its end.
type result struct {
	code   int
	stdout string
	stderr string
}

// run runs binary to its end.
func run(t *testing.T, e env, binary string, args ...string) result {
	t.Helper()
	p := start(t, e, binary, args...)
	code := p.wait(t)
	return result{code: code, stdout: p.stdout.String(), stderr: p.stderr.String()}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches url and returns the status and the body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the body of GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// getJSON fetches url and decodes its JSON object body.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	status, body := get(t, url)
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		t.Fatalf("GET %s returned %d with a body that is not a JSON object: %v\n%s", url, status, err, body)
	}
	return status, obj
}

// waitReady polls baseURL/ready until it reports ready. It fails at once
// when the process exits, with its stderr.
func waitReady(t *testing.T, p *process, baseURL string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.exited() {
			t.Fatalf("%s exited with status %d before it was ready\nstderr:\n%s", p.name, p.state.ExitCode(), p.stderr)
		}
		resp, err := httpClient.Get(baseURL + "/ready")
		if err == nil {
			var body struct {
				Status string `json:"status"`
			}
			decodeErr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if decodeErr == nil && resp.StatusCode == http.StatusOK && body.Status == "ready" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s/ready within %v (last error: %v)\nstderr:\n%s", p.name, baseURL, readyTimeout, err, p.stderr)
		}
		time.Sleep(pollInterval)
	}
}

// startDaemon starts capsold with e and waits until it is ready on PORT.
func startDaemon(t *testing.T, e env, args ...string) *process {
	t.Helper()
	p := start(t, e, capsoldBin, args...)
	waitReady(t, p, localURL(e.port(t)))
	return p
}

// initDataDir boots capsold once on e's data directory and stops it, which
// leaves a fresh, initialized layout of the current schema.
func initDataDir(t *testing.T, e env) {
	t.Helper()
	startDaemon(t, e).stop(t)
}

// bootFailure is the JSON object a failed boot prints as its last stderr line.
type bootFailure struct {
	Level       string `json:"level"`
	Code        string `json:"code"`
	Error       string `json:"error"`
	Remediation string `json:"remediation"`
}

// expectBootFailure asserts that r is a boot failure with code: exit status
// 78, nothing on stdout, and a last stderr line that is exactly one JSON
// object with level "fatal", the code, an error and a remediation.
func expectBootFailure(t *testing.T, r result, code string) bootFailure {
	t.Helper()
	if r.code != bootFailureExit {
		t.Fatalf("exit status %d, expected %d (%s)\nstderr:\n%s", r.code, bootFailureExit, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout is not empty on a boot failure:\n%s", r.stdout)
	}

	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	dec := json.NewDecoder(strings.NewReader(last))
	dec.DisallowUnknownFields()
	var f bootFailure
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("last stderr line is not the boot failure object: %v\nline: %s\nstderr:\n%s", err, last, r.stderr)
	}
	if dec.More() {
		t.Fatalf("last stderr line holds more than one JSON value: %s", last)
	}

	if f.Level != "fatal" {
		t.Errorf("level = %q, expected \"fatal\"", f.Level)
	}
	if f.Code != code {
		t.Errorf("code = %q, expected %q\nline: %s", f.Code, code, last)
	}
	if f.Error == "" {
		t.Errorf("error is empty\nline: %s", last)
	}
	if f.Remediation == "" {
		t.Errorf("remediation is empty\nline: %s", last)
	}
	return f
}

// runShell runs command in sh and fails the test when it fails.
func runShell(t *testing.T, command string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	if err != nil {
		t.Fatalf("sh -c %q failed: %v\n%s", command, err, out)
	}
}

// lockInfo is the content of capsold.lock while a daemon runs.
type lockInfo struct {
	PID       int       `json:"pid"`
	URL       string    `json:"url"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

func readLockFile(t *testing.T, dataDir string) (raw []byte, info lockInfo) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "capsold.lock"))
	if err != nil {
		t.Fatalf("read the lock file: %v", err)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatalf("capsold.lock is not JSON: %v\n%s", err, raw)
		}
	}
	return raw, info
}

// fileState is the content, mode and modification time of a file, which a
// test compares to prove that a process did not touch the file.
type fileState struct {
	data    []byte
	mode    fs.FileMode
	modTime time.Time
}

// snapshot records every regular file under dir by its slash path.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	files := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = fileState{data: data, mode: info.Mode(), modTime: info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return files
}

// assertUnchanged compares dir with an earlier snapshot: the same files,
// each with the same bytes, mode and modification time.
//
// capsold.lock is the exception, because a daemon takes the lock before it
// reads any index file: a failed boot may create or rewrite the lock file,
// but it must leave it empty, which means released.
func assertUnchanged(t *testing.T, dir string, before map[string]fileState) {
	t.Helper()
	after := snapshot(t, dir)
	for name, was := range before {
		now, ok := after[name]
		switch {
		case !ok:
			t.Errorf("%s was removed", name)
		case name == "capsold.lock":
		case !bytes.Equal(was.data, now.data):
			t.Errorf("%s changed:\nbefore: %s\nafter:  %s", name, was.data, now.data)
		case was.mode != now.mode:
			t.Errorf("%s changed mode from %v to %v", name, was.mode, now.mode)
		case !was.modTime.Equal(now.modTime):
			t.Errorf("%s was rewritten: mtime %v, before %v", name, now.modTime, was.modTime)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && name != "capsold.lock" {
			t.Errorf("%s was created", name)
		}
	}
	if lock, ok := after["capsold.lock"]; ok && len(lock.data) != 0 {
		t.Errorf("capsold.lock is not empty after the daemon exited: %s", lock.data)
	}
}

// copyDir copies the regular files and directories of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return errors.New(path + " is not a regular file")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatalf("%s is not a JSON object: %v\n%s", path, err, data)
	}
	return obj
}

func assertContains(t *testing.T, label, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Errorf("%s does not contain %q:\n%s", label, want, s)
	}
}
