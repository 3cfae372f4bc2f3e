package e2e

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// doctorReport is the JSON output of capsol doctor.
type doctorReport struct {
	DataDir  string          `json:"data_dir"`
	Findings []doctorFinding `json:"findings"`
}

type doctorFinding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func parseDoctorReport(t *testing.T, stdout string) doctorReport {
	t.Helper()
	var report doctorReport
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&report); err != nil {
		t.Fatalf("capsol doctor -o json did not print one JSON report: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("capsol doctor -o json printed more than one JSON value:\n%s", stdout)
	}
	if len(report.Findings) == 0 {
		t.Fatalf("capsol doctor reported no findings:\n%s", stdout)
	}
	return report
}

// findFinding returns the only finding of a check in a JSON doctor report.
func findFinding(t *testing.T, stdout, check string) doctorFinding {
	t.Helper()
	var found []doctorFinding
	for _, f := range parseDoctorReport(t, stdout).Findings {
		if f.Check == check {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("capsol doctor has %d %q findings, expected 1:\n%s", len(found), check, stdout)
	}
	return found[0]
}

func TestDoctorHealthyDataDir(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	initDataDir(t, e)
	before := snapshot(t, e["CAPSOL_DATA_DIR"])

	table := run(t, e, capsolBin, "doctor", "-o", "table")
	if table.code != 0 {
		t.Fatalf("exit status %d, expected 0\nstdout:\n%s\nstderr:\n%s", table.code, table.stdout, table.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(table.stdout), "\n") {
		if !strings.HasPrefix(line, "ok ") {
			t.Errorf("a healthy data directory has a finding that is not ok: %s", line)
		}
	}
	assertContains(t, "table output", table.stdout, "not held")

	report := parseDoctorReport(t, run(t, e, capsolBin, "doctor", "-o", "json").stdout)
	if report.DataDir != e["CAPSOL_DATA_DIR"] {
		t.Errorf("data_dir = %q, expected %s", report.DataDir, e["CAPSOL_DATA_DIR"])
	}
	for _, f := range report.Findings {
		if f.Severity != "ok" {
			t.Errorf("finding %+v is not ok", f)
		}
	}
	// doctor works offline and changes no file.
	assertUnchanged(t, e["CAPSOL_DATA_DIR"], before)
}

func TestDoctorCorruptIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dataDir := e["CAPSOL_DATA_DIR"]
	initDataDir(t, e)
	corrupt := filepath.Join(dataDir, "capsules.json")
	writeFile(t, corrupt, `{"capsules": [`)
	// The flag takes precedence over CAPSOL_DATA_DIR.
	e = e.with("CAPSOL_DATA_DIR", filepath.Join(t.TempDir(), "not-this-one"))

	table := run(t, e, capsolBin, "doctor", "--data-dir", dataDir, "-o", "table")
	if table.code != 1 {
		t.Fatalf("exit status %d, expected 1\nstdout:\n%s\nstderr:\n%s", table.code, table.stdout, table.stderr)
	}
	assertContains(t, "table output", table.stdout, "problem  index      "+corrupt+": does not parse")
	assertContains(t, "table output", table.stdout, "fix: Restore this one file from your latest backup")
	assertContains(t, "table output", table.stdout, filepath.Base(dataDir)+"/capsules.json")
	assertContains(t, "stderr", table.stderr, "1 problem found in "+dataDir)

	jsonRun := run(t, e, capsolBin, "doctor", "--data-dir", dataDir, "-o", "json")
	if jsonRun.code != 1 {
		t.Errorf("exit status %d with -o json, expected 1", jsonRun.code)
	}
	var problems []doctorFinding
	for _, f := range parseDoctorReport(t, jsonRun.stdout).Findings {
		if f.Severity == "problem" {
			problems = append(problems, f)
		}
	}
	if len(problems) != 1 {
		t.Fatalf("%d problems, expected 1 for capsules.json:\n%s", len(problems), jsonRun.stdout)
	}
	if problems[0].Subject != corrupt {
		t.Errorf("problem subject = %q, expected %s", problems[0].Subject, corrupt)
	}
	assertContains(t, "fix", problems[0].Fix, "capsules.json")
}

func TestDoctorRunningDaemon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := startDaemon(t, e)

	r := run(t, e, capsolBin, "doctor", "-o", "json")
	if r.code != 0 {
		t.Errorf("exit status %d, expected 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lock := findFinding(t, r.stdout, "lock")
	if lock.Severity != "ok" {
		t.Errorf("lock severity = %q, expected ok", lock.Severity)
	}
	assertContains(t, "lock finding", lock.Message, "held by capsold pid "+strconv.Itoa(p.pid()))
	assertContains(t, "lock finding", lock.Message, localURL(e.port(t)))

	// Reading the lock state must not disturb the running daemon.
	waitReady(t, p, localURL(e.port(t)))
	if _, info := readLockFile(t, e["CAPSOL_DATA_DIR"]); info.PID != p.pid() {
		t.Errorf("lock pid = %d after capsol doctor, expected %d", info.PID, p.pid())
	}
}
