package box

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// docMeta is the in-memory metadata of one entry. A docMeta is never changed
// after it is put in the index, so a reader may keep the pointer after it
// releases the index lock.
type docMeta struct {
	uri       string
	title     string
	tags      []string
	version   int64
	updatedAt time.Time
	size      int64
	expiresAt time.Time // zero unless the entry is a signal

	terms []uint32 // ids of the terms in the inverted index, for removal
}

// live reports whether the entry is visible at now. Only signals expire.
func (d *docMeta) live(now time.Time) bool {
	return d.expiresAt.IsZero() || now.Before(d.expiresAt)
}

// posting is one entry's weighted term frequency in a posting list.
type posting struct {
	doc uint32
	tf  float32
}

// index contains the metadata of every entry in a box, the entry URIs in
// sorted order for listing, and a BM25 inverted index for search. Writers
// hold both Box locks to change it, and readers hold Box.mu for reading.
type index struct {
	ids    map[string]uint32 // entry URI → doc id
	docs   []*docMeta        // by doc id; nil for a free id
	free   []uint32          // doc ids to reuse
	sorted []string          // entry URIs in ascending byte order, unless loading

	// loading makes put append to sorted without keeping it in order, so
	// that Open sorts once instead of inserting each URI in place.
	loading bool

	termIDs     map[string]uint32
	termNames   []string    // by term id; "" for a free id
	postings    [][]posting // by term id, each sorted by doc id
	freeTerms   []uint32    // term ids whose posting list became empty
	docLength   []float32   // weighted token count, by doc id
	totalLength float64     // sum of docLength over live doc ids
}

func newIndex() *index {
	return &index{
		ids:     make(map[string]uint32),
		termIDs: make(map[string]uint32),
	}
}

func (x *index) get(uri string) *docMeta {
	id, ok := x.ids[uri]
	if !ok {
		return nil
	}
	return x.docs[id]
}

func (x *index) count() int {
	return len(x.ids)
}

// put adds the entry described by meta and its analysis, replacing any entry
// with the same URI.
func (x *index) put(meta *docMeta, a analysis) {
	id, exists := x.ids[meta.uri]
	if exists {
		x.removePostings(id)
	} else {
		id = x.allocDoc()
		x.ids[meta.uri] = id
		if x.loading {
			x.sorted = append(x.sorted, meta.uri)
		} else {
			pos, _ := slices.BinarySearch(x.sorted, meta.uri)
			x.sorted = slices.Insert(x.sorted, pos, meta.uri)
		}
	}

	meta.terms = make([]uint32, 0, len(a.terms))
	for term, tf := range a.terms {
		termID := x.termID(term)
		x.postings[termID] = insertPosting(x.postings[termID], posting{doc: id, tf: tf})
		meta.terms = append(meta.terms, termID)
	}
	x.docs[id] = meta
	x.docLength[id] = a.length
	x.totalLength += float64(a.length)
}

// finishLoading sorts the URIs that put appended while loading.
func (x *index) finishLoading() {
	slices.Sort(x.sorted)
	x.loading = false
}

// remove deletes the entry with the given URI and reports whether it existed.
func (x *index) remove(uri string) bool {
	id, ok := x.ids[uri]
	if !ok {
		return false
	}
	x.removePostings(id)
	delete(x.ids, uri)
	if pos, found := slices.BinarySearch(x.sorted, uri); found {
		x.sorted = slices.Delete(x.sorted, pos, pos+1)
	}
	x.docs[id] = nil
	x.free = append(x.free, id)
	return true
}

func (x *index) allocDoc() uint32 {
	if n := len(x.free); n > 0 {
		id := x.free[n-1]
		x.free = x.free[:n-1]
		return id
	}
	x.docs = append(x.docs, nil)
	x.docLength = append(x.docLength, 0)
	return uint32(len(x.docs) - 1)
}

func (x *index) termID(term string) uint32 {
	if id, ok := x.termIDs[term]; ok {
		return id
	}
	var id uint32
	if n := len(x.freeTerms); n > 0 {
		id = x.freeTerms[n-1]
		x.freeTerms = x.freeTerms[:n-1]
	} else {
		x.postings = append(x.postings, nil)
		x.termNames = append(x.termNames, "")
		id = uint32(len(x.postings) - 1)
	}
	// The term may be a substring of a large entry's content. Cloning it
	// lets that content be garbage collected.
	term = strings.Clone(term)
	x.termIDs[term] = id
	x.termNames[id] = term
	return id
}

// removePostings takes doc id out of every posting list it is in and frees
// the terms that no other entry contains.
func (x *index) removePostings(id uint32) {
	meta := x.docs[id]
	for _, termID := range meta.terms {
		list := removePosting(x.postings[termID], id)
		if len(list) > 0 {
			x.postings[termID] = list
			continue
		}
		x.postings[termID] = nil
		delete(x.termIDs, x.termNames[termID])
		x.termNames[termID] = ""
		x.freeTerms = append(x.freeTerms, termID)
	}
	x.totalLength -= float64(x.docLength[id])
	x.docLength[id] = 0
}

func insertPosting(list []posting, p posting) []posting {
	if n := len(list); n == 0 || list[n-1].doc < p.doc {
		return append(list, p)
	}
	pos := sort.Search(len(list), func(i int) bool { return list[i].doc >= p.doc })
	if pos < len(list) && list[pos].doc == p.doc {
		list[pos] = p
		return list
	}
	return slices.Insert(list, pos, p)
}

func removePosting(list []posting, doc uint32) []posting {
	pos := sort.Search(len(list), func(i int) bool { return list[i].doc >= doc })
	if pos < len(list) && list[pos].doc == doc {
		return slices.Delete(list, pos, pos+1)
	}
	return list
}

// rangeStart returns the position in x.sorted of the first URI that starts
// with prefix and sorts after `after`.
func (x *index) rangeStart(prefix, after string) int {
	start, _ := slices.BinarySearch(x.sorted, prefix)
	if after != "" {
		pos, found := slices.BinarySearch(x.sorted, after)
		if found {
			pos++
		}
		start = max(start, pos)
	}
	return start
}
