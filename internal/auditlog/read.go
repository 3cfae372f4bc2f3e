package auditlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"time"
)

// Filter selects entries for Read. Zero fields select everything.
type Filter struct {
	// Date is a UTC day as YYYY-MM-DD: only that day's file is read.
	Date string
	// Since keeps entries whose "ts" is at or after it.
	Since time.Time
	// ConnectionID keeps entries with this "connection_id".
	ConnectionID string
	// Actor keeps entries with this "actor".
	Actor string
	// Limit keeps only the newest Limit matches.
	Limit int
}

// entryFields are the fields of a line that Filter looks at.
type entryFields struct {
	TS           string `json:"ts"`
	ConnectionID string `json:"connection_id"`
	Actor        string `json:"actor"`
}

// Read returns the entries of the audit log in dir that match f, oldest
// first, each a JSON object exactly as stored, "prev" included. A missing
// dir or day file has no entries. Read skips lines that are not JSON
// objects, such as a line cut short by a crash; Verify reports them.
func Read(dir string, f Filter) ([]json.RawMessage, error) {
	files, err := filesToRead(dir, f)
	if err != nil {
		return nil, err
	}

	// Read the newest files first so that a Limit stops early, and keep
	// the matches of each file as one batch, newest batch first.
	var batches [][]json.RawMessage
	total := 0
	for i := len(files) - 1; i >= 0; i-- {
		matches, err := readFile(filepath.Join(dir, files[i]), f)
		if errors.Is(err, fs.ErrNotExist) {
			// Prune removed the file after it was listed.
			continue
		}
		if err != nil {
			return nil, err
		}
		batches = append(batches, matches)
		total += len(matches)
		if f.Limit > 0 && total >= f.Limit {
			break
		}
	}

	entries := make([]json.RawMessage, 0, total)
	for i := len(batches) - 1; i >= 0; i-- {
		entries = append(entries, batches[i]...)
	}
	if f.Limit > 0 && len(entries) > f.Limit {
		entries = entries[len(entries)-f.Limit:]
	}
	return entries, nil
}

// filesToRead validates f and returns the day files that can contain its
// matches, oldest first.
func filesToRead(dir string, f Filter) ([]string, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("invalid audit log limit %d: must be positive, or zero for no limit", f.Limit)
	}

	if f.Date != "" {
		if _, err := ParseDate(f.Date); err != nil {
			return nil, err
		}
		name := dayFileName(f.Date)
		names, err := listDayFiles(dir)
		if err != nil {
			return nil, err
		}
		if slices.Contains(names, name) {
			return []string{name}, nil
		}
		return nil, nil
	}

	names, err := listDayFiles(dir)
	if err != nil {
		return nil, err
	}
	if f.Since.IsZero() {
		return names, nil
	}
	// A line is never written to a file dated before its "ts", so files
	// before the day of Since cannot match.
	sinceFile := dayFileName(dayOf(f.Since))
	first, _ := slices.BinarySearch(names, sinceFile)
	return names[first:], nil
}

// readFile returns the lines of one day file that match f, oldest first.
func readFile(path string, f Filter) ([]json.RawMessage, error) {
	var matches []json.RawMessage
	err := eachLine(path, func(_ int, line []byte, _ bool) error {
		if matchLine(line, f) {
			matches = append(matches, bytes.Clone(line))
		}
		return nil
	})
	return matches, err
}

// matchLine reports whether line is a JSON object that f selects.
func matchLine(line []byte, f Filter) bool {
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	var fields entryFields
	if err := json.Unmarshal(line, &fields); err != nil {
		return false
	}

	if f.ConnectionID != "" && fields.ConnectionID != f.ConnectionID {
		return false
	}
	if f.Actor != "" && fields.Actor != f.Actor {
		return false
	}
	if !f.Since.IsZero() {
		ts, err := time.Parse(time.RFC3339Nano, fields.TS)
		if err != nil || ts.Before(f.Since) {
			return false
		}
	}
	return true
}
