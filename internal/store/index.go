package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capsol/capsol/internal/fsutil"
)

// Index is one independent *.json file of the data directory, held in
// memory as an immutable snapshot. Writers are serialized per file and each
// write is durable before Update returns; readers take the current snapshot
// and never wait for an fsync.
type Index[D any] struct {
	name     string
	path     string
	store    *Store
	validate func(*D) error

	mu      sync.Mutex // serializes writers of this file
	current atomic.Pointer[snapshot[D]]
}

type snapshot[D any] struct {
	doc   *D
	bytes []byte
}

func newIndex[D any](s *Store, name string, validate func(*D) error) *Index[D] {
	return &Index[D]{name: name, path: s.path(name), store: s, validate: validate}
}

// Name returns the file name of the index, such as "capsules.json".
func (ix *Index[D]) Name() string { return ix.name }

// Get returns the current document. Callers must treat it as read-only:
// changes go through Update.
func (ix *Index[D]) Get() *D {
	return ix.current.Load().doc
}

// Update applies fn to a private copy of the document and durably writes
// the result. When fn returns an error nothing is written and the error is
// returned unchanged.
func (ix *Index[D]) Update(fn func(doc *D) error) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()

	next, err := decodeDocument[D](ix.current.Load().bytes)
	if err != nil {
		return fmt.Errorf("copy %s: %w", ix.name, err)
	}
	if err := fn(next); err != nil {
		return err
	}
	data, err := encodeDocument(next)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ix.name, err)
	}

	release := ix.store.WriteGate()
	defer release()
	started := time.Now()
	if err := fsutil.WriteFile(ix.path, data); err != nil {
		return err
	}
	ix.store.observeWrite(ix.name, time.Since(started))

	ix.current.Store(&snapshot[D]{doc: next, bytes: data})
	return nil
}

// load reads and validates the file, creating it with the empty document
// when it does not exist yet.
func (ix *Index[D]) load(empty func() *D) error {
	data, err := os.ReadFile(ix.path)
	if os.IsNotExist(err) {
		doc := empty()
		data, err = encodeDocument(doc)
		if err != nil {
			return err
		}
		if err := fsutil.WriteFile(ix.path, data); err != nil {
			return err
		}
		ix.current.Store(&snapshot[D]{doc: doc, bytes: data})
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", ix.path, err)
	}

	doc, err := decodeDocument[D](data)
	if err != nil {
		return &CorruptError{File: ix.name, Path: ix.path, Err: err}
	}
	if ix.validate != nil {
		if err := ix.validate(doc); err != nil {
			return &CorruptError{File: ix.name, Path: ix.path, Err: err}
		}
	}
	ix.current.Store(&snapshot[D]{doc: doc, bytes: data})
	return nil
}

func decodeDocument[D any](data []byte) (*D, error) {
	doc := new(D)
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return doc, nil
}

// encodeDocument renders a document as indented JSON with a final newline.
// HTML escaping is off so that strings keep the bytes an operator wrote.
func encodeDocument(doc any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CorruptError names an index file that does not parse or validate. The
// daemon refuses to boot on it instead of overwriting the file.
type CorruptError struct {
	File string
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s is corrupt: %v", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }
