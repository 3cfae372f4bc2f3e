package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/cli/logs"
	"github.com/capsol/capsol/pkg/client"
)

func TestOperatorLifecycleRunbook(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	c := client.New(d.URL, testAdminKey, nil)

	var invite client.NewInvite
	runJSON(t, &invite, join(api, "operators", "invite", "carol@example.com", "--role", "approver")...)
	if !strings.Contains(invite.URL, "/invite/capsol_inv_") || invite.Emailed {
		t.Errorf("invite printed %+v, want a link to deliver by hand", invite)
	}

	alice, err := c.CreateOperator(context.Background(), "alice@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := c.CreateOperator(context.Background(), "bob@example.com", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	var op client.Operator
	runJSON(t, &op, join(api, "operators", "set-role", "bob@example.com", "approver")...)
	if op.ID != bob.ID || op.Role != "approver" {
		t.Errorf("set-role by email returned %+v, want bob as approver", op)
	}
	runJSON(t, &op, join(api, "operators", "disable", bob.ID)...)
	if op.Status != "disabled" {
		t.Errorf("disable returned status %q", op.Status)
	}
	runJSON(t, &op, join(api, "operators", "enable", "BOB@example.com")...)
	if op.Status != "active" {
		t.Errorf("enable returned status %q", op.Status)
	}
	if code, _, stderr := run(t, join(api, "operators", "disable", "nobody@example.com")...); code != ExitNotFound {
		t.Errorf("disable of an unknown email: exit %d, want 3\n%s", code, stderr)
	}

	// Pre-0.19 capsules are unowned until an admin claims them.
	var capsule client.Capsule
	runJSON(t, &capsule, join(api, "capsules", "create", "legacy")...)
	var claimed struct {
		Capsules []client.Capsule `json:"capsules"`
	}
	runJSON(t, &claimed, join(api, "capsules", "claim", "--all-unowned", "--owner", alice.ID)...)
	if len(claimed.Capsules) != 1 || claimed.Capsules[0].OwnerID == nil || *claimed.Capsules[0].OwnerID != alice.ID {
		t.Fatalf("claim --all-unowned returned %+v, want the capsule owned by %s", claimed, alice.ID)
	}
	code, _, stderr := run(t, join(api, "capsules", "claim", capsule.ID, "--owner", bob.ID)...)
	if code != ExitFailure || !strings.Contains(stderr, "reassign") {
		t.Errorf("claiming an owned capsule: exit %d, stderr %q; want 1 pointing to reassign", code, stderr)
	}

	// Offboarding: reassign the capsules of the leaving operator.
	runJSON(t, &claimed, join(api, "capsules", "reassign", capsule.ID, "--owner", bob.ID)...)
	if got := claimed.Capsules[0].OwnerID; got == nil || *got != bob.ID {
		t.Errorf("reassign set owner %v, want %s", got, bob.ID)
	}
	var listed struct {
		Capsules []client.Capsule `json:"capsules"`
	}
	runJSON(t, &listed, join(api, "capsules", "list", "--owner", bob.ID)...)
	if len(listed.Capsules) != 1 {
		t.Errorf("capsules list --owner %s listed %d capsules, want 1", bob.ID, len(listed.Capsules))
	}
	runJSON(t, &claimed, join(api, "capsules", "reassign", capsule.ID, "--unowned")...)
	if claimed.Capsules[0].OwnerID != nil {
		t.Errorf("reassign --unowned left owner %v", *claimed.Capsules[0].OwnerID)
	}
}

func TestEnrollmentsRunbook(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	var capsule client.Capsule
	runJSON(t, &capsule, join(api, "capsules", "create", "fleet")...)

	var token struct {
		EnrollmentID string `json:"enrollment_id"`
		Token        string `json:"token"`
		EnrollURL    string `json:"enroll_url"`
	}
	runJSON(t, &token, join(api, "enrollments", "create", capsule.ID, "--role", "reader", "--uses", "2", "--label", "fleet")...)
	// The registry's public URL, not the --server URL, is what agents on
	// other hosts reach.
	if token.EnrollURL != d.BaseURL+"/enroll" {
		t.Errorf("enroll_url %q, want %s/enroll", token.EnrollURL, d.BaseURL)
	}
	enrolled, err := client.New(d.URL, "", nil).Enroll(context.Background(), token.Token, "agent-1")
	if err != nil {
		t.Fatalf("enroll with the printed token: %v", err)
	}
	if status, _ := mcpStatus(t, enrolled.MCPURL, enrolled.Credential); status != http.StatusOK {
		t.Errorf("the enrolled share got %d, want 200", status)
	}

	var listed struct {
		Enrollments []client.Enrollment `json:"enrollments"`
	}
	runJSON(t, &listed, join(api, "enrollments", "list")...)
	if len(listed.Enrollments) != 1 || listed.Enrollments[0].UsesLeft != 1 {
		t.Fatalf("enrollments list: %+v, want one token with 1 use left", listed.Enrollments)
	}
	runJSON(t, &listed, join(api, "enrollments", "revoke", token.EnrollmentID)...)
	if _, err := client.New(d.URL, "", nil).Enroll(context.Background(), token.Token, "agent-2"); client.ErrorCode(err) != "invalid_token" {
		t.Errorf("enrolling with a revoked token returned %v, want invalid_token", err)
	}
	runJSON(t, &listed, join(api, "enrollments", "list", capsule.ID, "--status", "revoked")...)
	if len(listed.Enrollments) != 1 {
		t.Errorf("enrollments list --status revoked listed %d tokens, want 1", len(listed.Enrollments))
	}
}

// lockedBuffer is a bytes.Buffer that one goroutine writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogsShowFollow(t *testing.T) {
	clearEnv(t)
	d := bootDaemon(t)
	api := []string{"--server", d.URL, "--key", testAdminKey}
	s := createShare(t, api, "watched", "reader")
	if status, _ := mcpStatus(t, s.MCPURL, s.Credential); status != http.StatusOK {
		t.Fatalf("MCP call: %d", status)
	}

	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- logs.RunShow(ctx, &logs.ShowOptions{
			Client: client.New(d.URL, testAdminKey, nil), Printer: cmdutil.Printer{Out: out, Format: cmdutil.FormatJSON},
			CapsuleID: s.CapsuleID, Follow: true, Interval: 50 * time.Millisecond,
		})
	}()

	// Two refused calls arrive while the command follows the log.
	time.Sleep(150 * time.Millisecond)
	mcpStatus(t, s.MCPURL, "capsol_share_wrong")
	mcpStatus(t, s.MCPURL, s.Credential)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow returned %v after the interrupt, want nil", err)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("follow printed %d lines, want 3 without duplicates:\n%s", len(lines), out.String())
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if seen[line] {
			t.Errorf("line printed twice: %s", line)
		}
		seen[line] = true
	}
	if !strings.Contains(lines[1], `"outcome":"denied"`) {
		t.Errorf("the second line is not the refused call: %s", lines[1])
	}
}
