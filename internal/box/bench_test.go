package box

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// commonWords are frequent English and engineering words. corpus adds
// generated rarer words after them, so that word frequencies follow a Zipf
// law as in real text.
var commonWords = strings.Fields(`
the of and to in is for that on with as are this be by it from or an at not
we can will use when if which all must each one new more only after before
service server client request response token credential access grant share
capsule entry blob signal memory search index backup restore migrate schema
daemon config flag environment port listen secret key hash audit log chain
operator agent principal session cookie oauth refresh expiry revoke rotate
deploy release build test benchmark latency throughput error retry timeout
database file directory lock write read fsync rename atomic durable crash
design decision tradeoff owner team project milestone incident postmortem
cluster node replica shard queue cache stream batch worker job schedule
http json yaml grpc api endpoint route handler middleware metric trace
user customer account billing invoice payment plan quota limit policy role
`)

// benchmarkCorpus generates realistic Markdown entries: a heading, a few
// paragraphs and tags, about 1.5 KiB each, drawn from a 20,000-word
// vocabulary with Zipf-distributed frequencies.
type benchmarkCorpus struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	words []string
}

func newBenchmarkCorpus() *benchmarkCorpus {
	rng := rand.New(rand.NewPCG(1, 2))
	words := slices.Clone(commonWords)
	syllables := []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zen", "dar", "qu", "pex", "bri", "tol"}
	for len(words) < 20_000 {
		n := 2 + rng.IntN(3)
		var word strings.Builder
		for range n {
			word.WriteString(syllables[rng.IntN(len(syllables))])
		}
		words = append(words, word.String())
	}
	return &benchmarkCorpus{
		rng:   rng,
		zipf:  rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1)),
		words: words,
	}
}

func (c *benchmarkCorpus) word() string {
	return c.words[c.zipf.Uint64()]
}

func (c *benchmarkCorpus) sentence(words int) string {
	parts := make([]string, words)
	for i := range parts {
		parts[i] = c.word()
	}
	return strings.Join(parts, " ")
}

func (c *benchmarkCorpus) entry(i int) WriteRequest {
	var content strings.Builder
	fmt.Fprintf(&content, "# %s\n\n", c.sentence(3+c.rng.IntN(4)))
	for range 2 + c.rng.IntN(4) {
		content.WriteString(c.sentence(30 + c.rng.IntN(50)))
		content.WriteString(".\n\n")
	}
	areas := []string{"design", "runbooks", "decisions", "incidents", "people", "api"}
	return WriteRequest{
		URI:     fmt.Sprintf("notes://%s/%s-%05d", areas[i%len(areas)], c.word(), i),
		Content: content.String(),
		Tags:    []string{areas[i%len(areas)], c.words[c.rng.IntN(50)]},
	}
}

// query returns one to three words: mostly frequent ones, sometimes rare.
func (c *benchmarkCorpus) query() string {
	return c.sentence(1 + c.rng.IntN(3))
}

// writeBenchmarkBox writes n entry files directly, without fsync, and opens
// the box. Writing 10,000 entries through WriteEntry would spend most of
// the setup in fsync.
func writeBenchmarkBox(b *testing.B, corpus *benchmarkCorpus, n int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), ".capsol")
	if err := ensureDirs(dir, filepath.Join(dir, "entries")); err != nil {
		b.Fatal(err)
	}
	updatedAt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		req := corpus.entry(i)
		rec := entryRecord{
			URI: req.URI, ContentType: DefaultContentType, Tags: req.Tags,
			Version: 1, UpdatedAt: updatedAt, Content: req.Content,
		}
		data, err := marshalJSON(rec)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "entries", entryFileName(req.URI)), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkSearch10k measures Search with the default limit on 10,000
// entries and reports the median and 99th percentile latency per query.
func BenchmarkSearch10k(b *testing.B) {
	corpus := newBenchmarkCorpus()
	box, err := Open(writeBenchmarkBox(b, corpus, 10_000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	queries := make([]string, 500)
	for i := range queries {
		queries[i] = corpus.query()
	}

	var latencies []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := box.Search(queries[i%len(queries)], "", 0); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}

	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkOpen10k measures how long Open takes to rebuild the index of
// 10,000 entries.
func BenchmarkOpen10k(b *testing.B) {
	dir := writeBenchmarkBox(b, newBenchmarkCorpus(), 10_000)
	for b.Loop() {
		if _, err := Open(dir, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteEntry measures durable writes of new 1.5 KiB entries, each
// fsynced with its directory before WriteEntry returns.
func BenchmarkWriteEntry(b *testing.B) {
	corpus := newBenchmarkCorpus()
	box, err := Open(filepath.Join(b.TempDir(), ".capsol"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	requests := make([]WriteRequest, 1000)
	for i := range requests {
		requests[i] = corpus.entry(i)
	}

	for i := 0; b.Loop(); i++ {
		if _, err := box.WriteEntry(requests[i%len(requests)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
