package box

import (
	"container/heap"
	"errors"
	"math"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Search limits.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 100
	MaxQueryBytes      = 1024
)

// Hit is one search result.
type Hit struct {
	URI     string  `json:"uri"`
	Title   string  `json:"title"`
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
}

// BM25 parameters: the usual defaults from the Okapi BM25 literature.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Field weights. A word in the title or a tag counts this many times on top
// of its occurrences in the content. The title usually repeats a heading of
// the content, so a title word ends up counting three times.
const (
	titleWeight = 2
	tagWeight   = 2
)

// maxTermBytes is the length of the longest word that is indexed. Longer runs
// of letters and digits are usually base64 or hashes, which would grow the
// index without helping a search.
const maxTermBytes = 64

// Search returns the entries that best match the words of query, ranked by
// BM25 over title, content and tags, with a snippet of content around the
// best match. Matching is on whole words, case-insensitive, and an entry
// needs only one of the words to match. With a non-empty prefix only entries
// whose URI starts with it are searched. limit 0 means DefaultSearchLimit.
func (b *Box) Search(query, prefix string, limit int) ([]Hit, error) {
	limit, err := checkLimit(limit, DefaultSearchLimit, MaxSearchLimit)
	if err != nil {
		return nil, err
	}
	if len(query) > MaxQueryBytes {
		return nil, newError(CodeInvalidRequest, "the query is %d bytes, over the maximum of %d; search for fewer words",
			len(query), MaxQueryBytes)
	}
	terms := queryTerms(query)
	if len(terms) == 0 {
		return nil, newError(CodeInvalidRequest, "the query %s contains no words; pass one or more words to search for",
			quote(query))
	}

	now := b.now()
	b.mu.RLock()
	ranked, weights := b.idx.rank(terms, prefix, now, limit)
	b.mu.RUnlock()

	// Content is not kept in memory, so snippets come from the entry files.
	// An entry rewritten since ranking gets a snippet of its new content.
	hits := make([]Hit, 0, len(ranked))
	for _, r := range ranked {
		rec, err := b.readRecord(r.meta.uri)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since ranking
		}
		if err != nil {
			return nil, err
		}
		hits = append(hits, Hit{
			URI:     r.meta.uri,
			Title:   r.meta.title,
			Snippet: makeSnippet(rec.Content, weights),
			Score:   r.score,
		})
	}
	return hits, nil
}

// analysis is the weighted term frequencies and length of one entry.
type analysis struct {
	terms  map[string]float32
	length float32
}

func analyze(title, content string, tags []string) analysis {
	a := analysis{terms: make(map[string]float32)}
	a.add(content, 1)
	a.add(title, titleWeight)
	for _, tag := range tags {
		a.add(tag, tagWeight)
	}
	return a
}

func (a *analysis) add(text string, weight float32) {
	forEachWord(text, func(start, end int) {
		term := normalizeTerm(text[start:end])
		if term == "" {
			return
		}
		a.terms[term] += weight
		a.length += weight
	})
}

// queryTerms returns the distinct terms of query in their order of appearance.
func queryTerms(query string) []string {
	var terms []string
	forEachWord(query, func(start, end int) {
		term := normalizeTerm(query[start:end])
		if term != "" && !slices.Contains(terms, term) {
			terms = append(terms, term)
		}
	})
	return terms
}

// forEachWord calls fn with the byte span of every word in s. A word is a
// maximal run of Unicode letters, numbers and nonspacing marks.
func forEachWord(s string, fn func(start, end int)) {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		size := 1
		var inWord bool
		if c < utf8.RuneSelf {
			inWord = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			inWord = unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r)
		}

		switch {
		case inWord && start < 0:
			start = i
		case !inWord && start >= 0:
			fn(start, i)
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(start, len(s))
	}
}

// normalizeTerm returns word in lowercase, or "" when word is longer than
// maxTermBytes. An ASCII word already in lowercase is returned without a copy.
func normalizeTerm(word string) string {
	if len(word) > maxTermBytes {
		return ""
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if c >= utf8.RuneSelf || (c >= 'A' && c <= 'Z') {
			return strings.ToLower(word)
		}
	}
	return word
}

// scoredDoc is an entry with its BM25 score for one query.
type scoredDoc struct {
	meta  *docMeta
	score float64
}

// rank returns the limit best live entries under prefix for terms, best
// first, and the inverse document frequency of each term that occurs in the
// box. Ties are broken by URI so that results are stable.
func (x *index) rank(terms []string, prefix string, now time.Time, limit int) ([]scoredDoc, map[string]float64) {
	n := float64(x.count())
	if n == 0 {
		return nil, nil
	}
	avgLength := x.totalLength / n
	if avgLength <= 0 {
		avgLength = 1
	}

	weights := make(map[string]float64, len(terms))
	scores := make([]float64, len(x.docs))
	var touched []uint32
	for _, term := range terms {
		termID, ok := x.termIDs[term]
		if !ok {
			continue
		}
		list := x.postings[termID]
		df := float64(len(list))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		weights[term] = idf

		for _, p := range list {
			tf := float64(p.tf)
			norm := bm25K1 * (1 - bm25B + bm25B*float64(x.docLength[p.doc])/avgLength)
			// idf and tf are positive, so a zero score means "not seen yet".
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += idf * tf * (bm25K1 + 1) / (tf + norm)
		}
	}

	best := make(worstFirst, 0, limit)
	for _, id := range touched {
		meta := x.docs[id]
		if !strings.HasPrefix(meta.uri, prefix) || !meta.live(now) {
			continue
		}
		candidate := scoredDoc{meta: meta, score: scores[id]}
		switch {
		case len(best) < limit:
			heap.Push(&best, candidate)
		case ranksBefore(candidate, best[0]):
			best[0] = candidate
			heap.Fix(&best, 0)
		}
	}
	slices.SortFunc(best, func(a, b scoredDoc) int {
		if ranksBefore(a, b) {
			return -1
		}
		return 1
	})
	return best, weights
}

func ranksBefore(a, b scoredDoc) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.meta.uri < b.meta.uri
}

// worstFirst is a heap of scored entries whose root is the lowest ranked.
type worstFirst []scoredDoc

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return ranksBefore(h[j], h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(scoredDoc)) }
func (h *worstFirst) Pop() any {
	old := *h
	last := old[len(old)-1]
	*h = old[:len(old)-1]
	return last
}

// Snippet sizes in bytes.
const (
	snippetBytes        = 200
	snippetLeadBytes    = 60        // context kept before the first matched word
	maxSnippetScanBytes = 256 << 10 // matches beyond this offset are not looked for
)

// makeSnippet returns about snippetBytes of content around the stretch where
// the query terms, weighted by idf, are densest. Without a match in content
// (the match was in the title or a tag), it returns the start of content.
func makeSnippet(content string, weights map[string]float64) string {
	scan := content[:min(len(content), maxSnippetScanBytes)]
	type match struct {
		start int
		term  string
	}
	var matches []match
	forEachWord(scan, func(start, end int) {
		term := normalizeTerm(scan[start:end])
		if _, ok := weights[term]; ok {
			matches = append(matches, match{start: start, term: term})
		}
	})
	if len(matches) == 0 {
		return excerpt(content, 0)
	}

	// Slide a window over the matches and keep the one whose distinct
	// terms weigh the most. The window starts at a match and spans what
	// fits in the snippet after the lead.
	window := snippetBytes - snippetLeadBytes
	counts := make(map[string]int)
	best, bestWeight, weight := 0, -1.0, 0.0
	right := 0
	for left := range matches {
		for right < len(matches) && matches[right].start < matches[left].start+window {
			term := matches[right].term
			if counts[term] == 0 {
				weight += weights[term]
			}
			counts[term]++
			right++
		}
		if weight > bestWeight {
			best, bestWeight = left, weight
		}
		term := matches[left].term
		counts[term]--
		if counts[term] == 0 {
			weight -= weights[term]
		}
	}
	return excerpt(content, matches[best].start)
}

// excerpt returns about snippetBytes of content starting up to
// snippetLeadBytes before byte offset at. It cuts at whitespace where it can,
// collapses runs of whitespace and marks cuts with "…".
func excerpt(content string, at int) string {
	start := max(0, at-snippetLeadBytes)
	if start > 0 {
		if i := strings.IndexAny(content[start:at], " \t\r\n"); i >= 0 {
			start += i + 1
		} else {
			for start < at && !utf8.RuneStart(content[start]) {
				start++
			}
		}
	}

	end := min(len(content), start+snippetBytes)
	if end < len(content) {
		if i := strings.LastIndexAny(content[at:end], " \t\r\n"); i > 0 {
			end = at + i
		} else {
			for end > at && !utf8.RuneStart(content[end]) {
				end--
			}
		}
	}

	text := strings.Join(strings.Fields(content[start:end]), " ")
	if start > 0 {
		text = "…" + text
	}
	if end < len(content) {
		text += "…"
	}
	return text
}

// maxTitleBytes bounds an entry's title.
const maxTitleBytes = 200

// titleOf returns the text of the first heading of a Markdown entry, or else
// the first non-blank line, cut to maxTitleBytes. The title is a copy, so
// keeping it does not keep the content in memory.
func titleOf(content, contentType string) string {
	title := ""
	if isMarkdown(contentType) {
		title = firstHeading(content)
	}
	if title == "" {
		for line := range strings.Lines(content) {
			if text := strings.TrimSpace(line); text != "" {
				title = text
				break
			}
		}
	}
	return strings.Clone(truncateUTF8(title, maxTitleBytes))
}

func isMarkdown(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mediaType == "text/markdown" || mediaType == "text/x-markdown")
}

// firstHeading returns the text of the first ATX heading ("# Title") outside
// fenced code blocks, or "" when there is none.
func firstHeading(content string) string {
	inFence := false
	for line := range strings.Lines(content) {
		line = strings.TrimRight(line, "\r\n")
		indented := strings.TrimLeft(line, " ")
		if len(line)-len(indented) > 3 {
			continue // indented code
		}
		if strings.HasPrefix(indented, "```") || strings.HasPrefix(indented, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}

		hashes := len(indented) - len(strings.TrimLeft(indented, "#"))
		if hashes < 1 || hashes > 6 {
			continue
		}
		rest := indented[hashes:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			continue // "#tag" is not a heading
		}
		text := strings.TrimSpace(rest)
		// Drop an optional closing sequence of "#" characters.
		if trimmed := strings.TrimRight(text, "#"); trimmed == "" || strings.HasSuffix(trimmed, " ") {
			text = strings.TrimSpace(trimmed)
		}
		if text != "" {
			return text
		}
	}
	return ""
}

func truncateUTF8(s string, maxBytes int) string {
	if len(s) <= maxBytes {
		return s
	}
	cut := maxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
