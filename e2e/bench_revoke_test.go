package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRevokeToRefusal measures the revoke runbook from the start of
// the command to the first MCP request that is refused with 401
// token_revoked. Each iteration revokes two fresh shares, alternating
// which goes first: one with the capsol binary (capsol connections revoke
// ID --yes) and, as the baseline, one with the curl command of step 2 of
// the manual runbook. Both figures include starting a process. ns/op is
// the mean of the CLI revocations; creating the shares is not timed.
func BenchmarkRevokeToRefusal(b *testing.B) {
	if _, err := exec.LookPath("curl"); err != nil {
		b.Fatalf("the baseline runs the runbook's curl command: %v", err)
	}
	root := b.TempDir()
	port := freePortTB(b)
	e := env{
		"PATH": envPath(), "HOME": root + "/user-home", "CAPSOL_HOME": root + "/capsol-home",
		"CAPSOL_DATA_DIR": root + "/data", "PORT": strconv.Itoa(port), "CAPSOL_ADMIN_KEY": runbookAdminKey,
	}
	daemon := exec.Command(capsoldBin)
	daemon.Env = e.list()
	var daemonLog syncBuffer
	daemon.Stderr = &daemonLog
	if err := daemon.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
	})
	baseURL := localURL(port)
	waitReadyTB(b, baseURL, &daemonLog)
	capsuleID := postJSON(b, baseURL+"/v1/capsules", map[string]any{"name": "bench"})["id"].(string)

	var cli, manual []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		first := postJSON(b, baseURL+"/v1/capsules/"+capsuleID+"/shares", map[string]any{"label": "cli", "role": "writer"})
		second := postJSON(b, baseURL+"/v1/capsules/"+capsuleID+"/shares", map[string]any{"label": "curl", "role": "writer"})
		b.StartTimer()

		revokeCLI := func() {
			cli = append(cli, revokeToRefusal(b, first, func(id string) *exec.Cmd {
				cmd := exec.Command(capsolBin, "connections", "revoke", id, "--yes")
				cmd.Env = e.list()
				return cmd
			}))
		}
		// The timer runs for the CLI alone, so ns/op is its mean.
		revokeCurl := func() {
			b.StopTimer()
			defer b.StartTimer()
			manual = append(manual, revokeToRefusal(b, second, func(id string) *exec.Cmd {
				step := strings.ReplaceAll(strings.ReplaceAll(revokeStepRevoke, "localhost:4000", "localhost:"+strconv.Itoa(port)), "<connection_id>", id)
				cmd := exec.Command("sh", "-c", step)
				cmd.Env = []string{"PATH=" + envPath(), "ADMIN=" + runbookAdminKey}
				return cmd
			}))
		}
		if i%2 == 0 {
			revokeCLI()
			revokeCurl()
		} else {
			revokeCurl()
			revokeCLI()
		}
	}

	b.ReportMetric(float64(percentile(cli, 50).Microseconds())/1000, "cli-p50-ms")
	b.ReportMetric(float64(percentile(cli, 100).Microseconds())/1000, "cli-max-ms")
	b.ReportMetric(float64(percentile(manual, 50).Microseconds())/1000, "curl-p50-ms")
	b.ReportMetric(float64(percentile(manual, 100).Microseconds())/1000, "curl-max-ms")
	if worst := percentile(cli, 100); worst > time.Second {
		b.Errorf("the slowest CLI revocation took %v to the first refused MCP call, target under 1s", worst)
	}
}

// revokeToRefusal runs the command that command builds for the share's
// connection and returns the time from its start until an MCP request
// with the share's credential is refused with token_revoked.
func revokeToRefusal(b *testing.B, share map[string]any, command func(id string) *exec.Cmd) time.Duration {
	b.Helper()
	id, credential, mcpURL := share["connection_id"].(string), share["credential"].(string), share["mcp_url"].(string)
	cmd := command(id)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	started := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("revoke %s: %v\n%s", id, err, output.String())
	}
	for attempt := 0; ; attempt++ {
		status, code := mcpInitializeTB(b, mcpURL, credential)
		if status == http.StatusUnauthorized && code == "token_revoked" {
			return time.Since(started)
		}
		if attempt == 100 {
			b.Fatalf("the MCP call still gets %d %q after the revocation of %s", status, code, id)
		}
		time.Sleep(time.Millisecond)
	}
}

// percentile returns the p-th percentile (0 to 100) of durations by the
// nearest-rank method.
func percentile(durations []time.Duration, p int) time.Duration {
	if len(durations) == 0 {
		return 0
	}
	sorted := slices.Clone(durations)
	slices.Sort(sorted)
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// freePortTB returns a TCP port that was free on 127.0.0.1 an instant ago.
func freePortTB(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func envPath() string { return os.Getenv("PATH") }

// waitReadyTB polls baseURL/ready until the daemon is ready.
func waitReadyTB(tb testing.TB, baseURL string, daemonLog *syncBuffer) {
	tb.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := httpClient.Get(baseURL + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the daemon is not ready at %s within %v (last error: %v)\nstderr:\n%s", baseURL, readyTimeout, err, daemonLog)
		}
		time.Sleep(pollInterval)
	}
}

// postJSON sends an admin API POST with runbookAdminKey and returns the
// decoded 201 response.
func postJSON(tb testing.TB, url string, body any) map[string]any {
	tb.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+runbookAdminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		tb.Fatalf("POST %s: status %d, %v %v", url, resp.StatusCode, out, err)
	}
	return out
}

// mcpInitializeTB sends an MCP initialize request with credential and
// returns the status and the error_code of a refusal.
func mcpInitializeTB(tb testing.TB, mcpURL, credential string) (int, string) {
	tb.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+credential)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var refusal struct {
		ErrorCode string `json:"error_code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&refusal)
	return resp.StatusCode, refusal.ErrorCode
}
