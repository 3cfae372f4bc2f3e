package box

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// loadEntries reads every entry file into the index. Files are parsed and
// tokenized by GOMAXPROCS workers, because a box of 10,000 entries would
// otherwise take seconds to open. Only metadata and terms are kept.
func (b *Box) loadEntries() error {
	dir := b.entriesDir()
	dirEntries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list entries: %w", err)
	}
	var names []string
	for _, entry := range dirEntries {
		name := entry.Name()
		switch {
		case strings.HasPrefix(name, "."):
			// A leftover temporary file of an interrupted write. Entry
			// files never start with a dot.
			continue
		case !entry.Type().IsRegular() || !isEntryFileName(name):
			b.log.Warn("skipping unexpected file in the entries directory", "path", filepath.Join(dir, name))
			continue
		}
		names = append(names, name)
	}

	b.idx.loading = true
	defer b.idx.finishLoading()

	var (
		next     atomic.Int64
		failed   atomic.Bool
		firstErr error
		mu       sync.Mutex // guards b.idx and firstErr
		wg       sync.WaitGroup
	)
	workers := max(1, min(runtime.GOMAXPROCS(0), len(names)))
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(names) {
					return
				}
				meta, terms, err := loadEntry(filepath.Join(dir, names[i]))

				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					failed.Store(true)
				} else {
					b.idx.put(meta, terms)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

func loadEntry(path string) (*docMeta, analysis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, analysis{}, fmt.Errorf("read entry file: %w", err)
	}
	rec, err := decodeRecord(path, data)
	if err != nil {
		return nil, analysis{}, err
	}
	title := titleOf(rec.Content, rec.ContentType)
	return rec.meta(title), analyze(title, rec.Content, rec.Tags), nil
}

// isEntryFileName reports whether name is 64 lowercase hex digits and ".json".
func isEntryFileName(name string) bool {
	digest, found := strings.CutSuffix(name, ".json")
	return found && isDigest(digest)
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// loadBlobs adds up the sizes of the stored blobs.
func (b *Box) loadBlobs() error {
	dir := b.blobDir()
	dirEntries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list blobs: %w", err)
	}
	for _, entry := range dirEntries {
		name := entry.Name()
		switch {
		case strings.HasPrefix(name, "."):
			continue // leftover temporary file
		case entry.Type().IsRegular() && isEntryFileName(name):
			continue // content type of a blob
		case !entry.Type().IsRegular() || !isDigest(name):
			b.log.Warn("skipping unexpected file in the blobs directory", "path", filepath.Join(dir, name))
			continue
		}
		info, err := entry.Info()
		if err != nil {
			return fmt.Errorf("stat blob: %w", err)
		}
		b.blobBytes += info.Size()
	}
	return nil
}

// loadMemory reads memory.json into the box. A missing file leaves the
// memory as it is, which at Open is empty.
func (b *Box) loadMemory() error {
	path := b.memoryPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read memory: %w", err)
	}
	var memory map[string]string
	if err := json.Unmarshal(data, &memory); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if memory == nil {
		memory = map[string]string{}
	}
	b.mu.Lock()
	b.memory = memory
	b.mu.Unlock()
	return nil
}
