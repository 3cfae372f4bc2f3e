package auditlog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/auditlog"
)

var pruneDays = []string{"2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05"}

func readDayFiles(t *testing.T, dir string, dates []string) map[string][]byte {
	t.Helper()
	contents := map[string][]byte{}
	for _, date := range dates {
		data, err := os.ReadFile(dayPath(dir, date))
		require.NoError(t, err)
		contents[date] = data
	}
	return contents
}

func readChainHead(t *testing.T, dir string) auditlog.ChainHead {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, auditlog.ChainHeadFile))
	require.NoError(t, err)
	var head auditlog.ChainHead
	require.NoError(t, json.Unmarshal(data, &head))
	return head
}

func TestPruneWithArchive(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(t.TempDir(), "archive", "cap_1")
	writeDays(t, dir, pruneDays, 3)
	originals := readDayFiles(t, dir, pruneDays)
	lastPruned := fileLines(t, dayPath(dir, "2025-03-03"))[2]

	// A cutoff in the middle of the 4th keeps the 4th.
	result, err := auditlog.Prune(dir, day(t, "2025-03-04"), archive, false)
	require.NoError(t, err)

	assert.Equal(t, []string{"2025-03-01.jsonl", "2025-03-02.jsonl", "2025-03-03.jsonl"}, result.Files)
	assert.False(t, result.DryRun)
	assert.Equal(t, archive, result.ArchiveDir)
	wantBytes := int64(len(originals["2025-03-01"]) + len(originals["2025-03-02"]) + len(originals["2025-03-03"]))
	assert.Equal(t, wantBytes, result.Bytes)
	require.NotNil(t, result.Head)
	assert.Equal(t, "2025-03-03.jsonl", result.Head.File)
	assert.Equal(t, sha(lastPruned), result.Head.Hash)

	for _, date := range pruneDays[:3] {
		assert.NoFileExists(t, dayPath(dir, date))
		archived, err := os.ReadFile(dayPath(archive, date))
		require.NoError(t, err)
		assert.Equal(t, originals[date], archived, date)
		info, err := os.Stat(dayPath(archive, date))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), date)
	}
	for _, date := range pruneDays[3:] {
		assert.FileExists(t, dayPath(dir, date))
	}
	archiveInfo, err := os.Stat(archive)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), archiveInfo.Mode().Perm())

	head := readChainHead(t, dir)
	assert.Equal(t, result.Head.File, head.File)
	assert.Equal(t, result.Head.Hash, head.Hash)
	headInfo, err := os.Stat(filepath.Join(dir, auditlog.ChainHeadFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), headInfo.Mode().Perm())

	report := verifyOK(t, dir)
	assert.Equal(t, 2, report.Files)
	assert.Equal(t, 6, report.Lines)
	assert.Equal(t, sha(lastPruned), report.Start)
	archiveReport := verifyOK(t, archive)
	assert.Equal(t, 9, archiveReport.Lines)
	assert.Equal(t, report.Start, archiveReport.Head)
}

func TestPruneDryRun(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(t.TempDir(), "archive")
	writeDays(t, dir, pruneDays, 2)
	originals := readDayFiles(t, dir, pruneDays)

	result, err := auditlog.Prune(dir, day(t, "2025-03-03"), archive, true)
	require.NoError(t, err)

	assert.True(t, result.DryRun)
	assert.Equal(t, []string{"2025-03-01.jsonl", "2025-03-02.jsonl"}, result.Files)
	require.NotNil(t, result.Head)
	assert.Equal(t, "2025-03-02.jsonl", result.Head.File)
	assert.Equal(t, originals, readDayFiles(t, dir, pruneDays))
	assert.NoDirExists(t, archive)
	assert.NoFileExists(t, filepath.Join(dir, auditlog.ChainHeadFile))
}

func TestPruneTwiceWithoutArchive(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, pruneDays, 2)

	first, err := auditlog.Prune(dir, day(t, "2025-03-02"), "", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"2025-03-01.jsonl"}, first.Files)
	assert.Empty(t, first.ArchiveDir)
	verifyOK(t, dir)

	second, err := auditlog.Prune(dir, day(t, "2025-03-04"), "", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"2025-03-02.jsonl", "2025-03-03.jsonl"}, second.Files)
	require.NotNil(t, second.Head)
	assert.Equal(t, "2025-03-03.jsonl", second.Head.File)
	report := verifyOK(t, dir)
	assert.Equal(t, 4, report.Lines)

	nothing, err := auditlog.Prune(dir, day(t, "2025-03-04"), "", false)
	require.NoError(t, err)
	assert.Empty(t, nothing.Files)
	assert.Nil(t, nothing.Head)
}

func TestPruneEverythingThenAppend(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, pruneDays, 2)
	last := fileLines(t, dayPath(dir, "2025-03-05"))[1]

	result, err := auditlog.Prune(dir, day(t, "2025-04-01"), "", false)
	require.NoError(t, err)
	assert.Len(t, result.Files, 5)
	assert.Equal(t, sha(last), result.Head.Hash)
	report := verifyOK(t, dir)
	assert.Equal(t, 0, report.Lines)
	assert.Equal(t, sha(last), report.Head)

	// A clock still on the last pruned day must not write a file that
	// Verify would take for a leftover of the prune.
	clock := newClock(day(t, "2025-03-05"))
	l := openLog(t, dir, clock)
	require.NoError(t, l.Append(capsuleRecord(1)))
	clock.Set(day(t, "2025-04-02"))
	require.NoError(t, l.Append(capsuleRecord(2)))
	require.NoError(t, l.Close())

	first := fileLines(t, dayPath(dir, "2025-03-06"))
	assert.Equal(t, sha(last), field(t, first[0], "prev"))
	assert.FileExists(t, dayPath(dir, "2025-04-02"))
	report = verifyOK(t, dir)
	assert.Equal(t, 2, report.Lines)
	assert.Empty(t, report.Leftovers)
}

func TestPruneKeepsEmptyDayChain(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, pruneDays[:2], 2)
	last := fileLines(t, dayPath(dir, "2025-03-02"))[1]
	require.NoError(t, os.WriteFile(dayPath(dir, "2025-03-03"), nil, 0o600))
	writeDays(t, dir, pruneDays[3:4], 2)

	result, err := auditlog.Prune(dir, day(t, "2025-03-04"), "", false)
	require.NoError(t, err)
	assert.Equal(t, "2025-03-03.jsonl", result.Head.File)
	assert.Equal(t, sha(last), result.Head.Hash)
	verifyOK(t, dir)
}

func TestPruneInterruptedBeforeDeleting(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, pruneDays, 2)
	last := fileLines(t, dayPath(dir, "2025-03-02"))[1]

	// A chain head is recorded, then the process stops before deleting.
	dryRun, err := auditlog.Prune(dir, day(t, "2025-03-03"), "", true)
	require.NoError(t, err)
	data, err := json.Marshal(dryRun.Head)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, auditlog.ChainHeadFile), data, 0o600))

	report := verifyOK(t, dir)
	assert.Equal(t, []string{"2025-03-01.jsonl", "2025-03-02.jsonl"}, report.Leftovers)
	assert.Equal(t, sha(last), report.Start)
	assert.Equal(t, 6, report.Lines)

	result, err := auditlog.Prune(dir, day(t, "2025-03-03"), "", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"2025-03-01.jsonl", "2025-03-02.jsonl"}, result.Files)
	assert.Nil(t, result.Head, "the recorded head is already right")
	report = verifyOK(t, dir)
	assert.Empty(t, report.Leftovers)
}

func TestPruneArchiveConflict(t *testing.T) {
	dir := t.TempDir()
	archive := t.TempDir()
	writeDays(t, dir, pruneDays, 2)
	originals := readDayFiles(t, dir, pruneDays)
	require.NoError(t, os.WriteFile(dayPath(archive, "2025-03-02"), []byte("other\n"), 0o600))
	require.NoError(t, os.WriteFile(dayPath(archive, "2025-03-01"), originals["2025-03-01"], 0o600))

	_, err := auditlog.Prune(dir, day(t, "2025-03-03"), archive, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), dayPath(archive, "2025-03-02"))
	assert.Contains(t, err.Error(), "already exists with other content")
	assert.Equal(t, originals, readDayFiles(t, dir, pruneDays), "nothing is removed")
	assert.NoFileExists(t, filepath.Join(dir, auditlog.ChainHeadFile))
}

func TestPruneRejectsInvalidArguments(t *testing.T) {
	dir := t.TempDir()
	writeDays(t, dir, pruneDays, 1)

	_, err := auditlog.Prune(dir, time.Time{}, "", false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing cutoff")

	_, err = auditlog.Prune(dir, day(t, "2025-03-03"), dir, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "log directory itself")
	assert.FileExists(t, dayPath(dir, "2025-03-01"))
}

func TestPruneKeepsToday(t *testing.T) {
	dir := t.TempDir()
	today := time.Now().UTC().Format(time.DateOnly)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	writeDays(t, dir, []string{yesterday, today}, 1)

	result, err := auditlog.Prune(dir, time.Now().AddDate(0, 0, 2), "", false)
	require.NoError(t, err)
	assert.Equal(t, []string{yesterday + ".jsonl"}, result.Files)
	assert.FileExists(t, dayPath(dir, today))
	verifyOK(t, dir)
}
