package auditlog_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
)

var verifyDays = []string{"2025-03-01", "2025-03-02", "2025-03-03"}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(t *testing.T, dir string)
		wantFile   string
		wantLine   int
		wantLines  int // lines checked before the break
		wantReason string
	}{
		{
			name:       "edited line",
			tamper:     editLine("2025-03-01", 2, `"duration_ms":2`, `"duration_ms":9`),
			wantFile:   "2025-03-01.jsonl",
			wantLine:   3,
			wantLines:  2,
			wantReason: "not the SHA-256 of 2025-03-01.jsonl line 2",
		},
		{
			name:       "edited last line of a day",
			tamper:     editLine("2025-03-01", 4, `"outcome":"ok"`, `"outcome":"error"`),
			wantFile:   "2025-03-02.jsonl",
			wantLine:   1,
			wantLines:  4,
			wantReason: "not the SHA-256 of 2025-03-01.jsonl line 4",
		},
		{
			name:       "edited prev",
			tamper:     editLine("2025-03-03", 2, `"prev":"`, `"prev":"0`),
			wantFile:   "2025-03-03.jsonl",
			wantLine:   2,
			wantLines:  9,
			wantReason: "not the SHA-256 of 2025-03-03.jsonl line 1",
		},
		{
			name:       "line made invalid JSON",
			tamper:     editLine("2025-03-02", 2, `"tool":"read_entry"`, `"tool":read_entry`),
			wantFile:   "2025-03-02.jsonl",
			wantLine:   2,
			wantLines:  5,
			wantReason: "invalid JSON",
		},
		{
			name:       "prev removed",
			tamper:     editLine("2025-03-02", 3, `"prev":`, `"was":`),
			wantFile:   "2025-03-02.jsonl",
			wantLine:   3,
			wantLines:  6,
			wantReason: `missing "prev"`,
		},
		{
			name:       "deleted line",
			tamper:     deleteLine("2025-03-02", 2),
			wantFile:   "2025-03-02.jsonl",
			wantLine:   2,
			wantLines:  5,
			wantReason: "not the SHA-256 of 2025-03-02.jsonl line 1",
		},
		{
			name:       "deleted first line",
			tamper:     deleteLine("2025-03-01", 1),
			wantFile:   "2025-03-01.jsonl",
			wantLine:   1,
			wantLines:  0,
			wantReason: "not 64 zeros",
		},
		{
			name:       "deleted day file",
			tamper:     removeDay("2025-03-02"),
			wantFile:   "2025-03-03.jsonl",
			wantLine:   1,
			wantLines:  4,
			wantReason: "not the SHA-256 of 2025-03-01.jsonl line 4",
		},
		{
			name:       "deleted first day file",
			tamper:     removeDay("2025-03-01"),
			wantFile:   "2025-03-02.jsonl",
			wantLine:   1,
			wantLines:  0,
			wantReason: "not 64 zeros",
		},
		{
			name:       "swapped lines",
			tamper:     swapLines("2025-03-03", 2, 3),
			wantFile:   "2025-03-03.jsonl",
			wantLine:   2,
			wantLines:  9,
			wantReason: "not the SHA-256 of 2025-03-03.jsonl line 1",
		},
		{
			name:       "inserted blank line",
			tamper:     editLine("2025-03-01", 2, `{"ts"`, "\n"+`{"ts"`),
			wantFile:   "2025-03-01.jsonl",
			wantLine:   2,
			wantLines:  1,
			wantReason: "empty line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeDays(t, dir, verifyDays, 4)
			tt.tamper(t, dir)

			report, err := auditlog.Verify(dir)
			require.NoError(t, err)
			assert.False(t, report.OK)
			assert.Empty(t, report.Head)
			assert.Equal(t, tt.wantLines, report.Lines)
			require.NotNil(t, report.Break)
			assert.Equal(t, tt.wantFile, report.Break.File)
			assert.Equal(t, tt.wantLine, report.Break.Line)
			assert.Contains(t, report.Break.Reason, tt.wantReason)
		})
	}
}

func TestVerifyEditedLastLineChangesHead(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, verifyDays, 4)
	before := verifyOK(t, dir)

	// No line follows the last one, so only the exported head shows the edit.
	editLine("2025-03-03", 4, `"outcome":"ok"`, `"outcome":"error"`)(t, dir)

	after := verifyOK(t, dir)
	assert.Equal(t, 12, after.Lines)
	assert.NotEqual(t, before.Head, after.Head)
}

func TestVerifyEmptyDirectory(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		report := verifyOK(t, dir)
		assert.Equal(t, 0, report.Files, dir)
		assert.Equal(t, 0, report.Lines, dir)
		assert.Equal(t, auditlog.ZeroHash, report.Head, dir)
	}
}

func TestVerifyIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, verifyDays[:1], 2)
	for _, name := range []string{"notes.txt", "2025-3-1.jsonl", "2025-03-01.jsonl.gz"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("junk\n"), 0o600))
	}

	report := verifyOK(t, dir)
	assert.Equal(t, 1, report.Files)
}

func TestVerifyRejectsInvalidChainHead(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{"not JSON", "{", "invalid chain head"},
		{"bad file", `{"file":"../x.jsonl","hash":"` + auditlog.ZeroHash + `"}`, `file "../x.jsonl"`},
		{"bad hash", `{"file":"2025-03-01.jsonl","hash":"ABC"}`, `hash "ABC"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, auditlog.ChainHeadFile), []byte(tt.content), 0o600))

			_, err := auditlog.Verify(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), auditlog.ChainHeadFile)
		})
	}
}

// editLine replaces the first old with new in one line of a day file.
func editLine(date string, number int, old, new string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		path := dayPath(dir, date)
		lines := fileLines(t, path)
		require.Contains(t, string(lines[number-1]), old)
		lines[number-1] = bytes.Replace(lines[number-1], []byte(old), []byte(new), 1)
		writeLines(t, path, lines)
	}
}

func deleteLine(date string, number int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		path := dayPath(dir, date)
		lines := fileLines(t, path)
		lines = append(lines[:number-1], lines[number:]...)
		writeLines(t, path, lines)
	}
}

func swapLines(date string, a, b int) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		path := dayPath(dir, date)
		lines := fileLines(t, path)
		lines[a-1], lines[b-1] = lines[b-1], lines[a-1]
		writeLines(t, path, lines)
	}
}

func removeDay(date string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		require.NoError(t, os.Remove(dayPath(dir, date)))
	}
}
