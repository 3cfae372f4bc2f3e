package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/daemon"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// The benchmarks below compare capsol with a baseline measured in the same
// run, so that load from other processes on the machine hits both figures.
// They report their own metrics. Their ns/op counts one capsol operation
// plus one baseline operation.

// benchEntryURI is the entry read by BenchmarkReadEntry.
const benchEntryURI = "notes://design/storage"

// benchEntryContent is a Markdown design note of about 2 KiB.
const benchEntryContent = `# Storage design

capsol keeps every capsule in its own box directory under the data
directory. Each entry is one JSON file named by the SHA-256 of its URI, so
no request text ever reaches a file name and a URI cannot point outside the
box.

## Writes

A write goes to a temporary file in the same directory, which is fsynced and
renamed over the old file; then the directory is fsynced. A reader, a backup
or a restart after a crash sees the whole old file or the whole new file,
never a torn one. Writes to one box are serialized and return only after
they are on disk, so an agent that gets a version number back can rely on it.

## Reads

The box keeps the metadata of every entry and a full-text index in memory.
Reads never wait for an fsync: they read the entry file, which the page cache
usually holds, and decode it.

## Search

Search ranks entries with BM25 over title, content and tags. Title and tag
words count more than content words, because the title usually repeats the
main heading. Snippets come from the entry files, so the index does not keep
content in memory.

## Limits

An entry holds at most 1 MiB of UTF-8 text and 32 tags. Blobs are stored
apart from entries, addressed by the SHA-256 of their bytes, so the same
image uploaded by two agents is kept once. Signals are short-lived entries
under notes://signals/. They expire after their TTL, and the next
send_signal call on the capsule removes the expired ones from disk and from
the index.

## Open questions

- Should large blobs move to a separate volume? Today they share the data
  directory with the indexes.
- The audit log starts a new file every day. A busy capsule may want
  hourly files instead.
- Backups take the store-wide write gate, so a long backup delays writes.
  Measure how long the gate is held on a capsule of 100,000 entries before
  deciding whether an incremental scheme is worth its complexity.

Owners: storage team. Review this note when the file layout changes.
`

// BenchmarkReadEntry measures read_entry calls through a real daemon (HTTP
// router, credential check, audit log and box read in the path) against a
// bare Go SDK server that returns the same result from memory. Both are
// called by the same SDK client over loopback with the same number of
// concurrent sessions, in alternating rounds.
func BenchmarkReadEntry(b *testing.B) {
	d := startBenchDaemon(b, b.TempDir())
	capsuleID := seedBenchCapsule(b, d)
	credential := seedBenchShare(b, d, capsuleID, store.RoleReader)
	capsuleBox, err := d.Registry.Box(capsuleID)
	require.NoError(b, err)
	entry, err := capsuleBox.WriteEntry(box.WriteRequest{URI: benchEntryURI, Content: benchEntryContent,
		Tags: []string{"design", "storage"}, UpdatedBy: "bench"})
	require.NoError(b, err)

	bareURL := startBareServer(b, entry)
	const maxSessions = 4
	capsolSessions := openBenchSessions(b, d.URL+"/mcp/"+capsuleID, credential, maxSessions)
	bareSessions := openBenchSessions(b, bareURL, credential, maxSessions)

	params := &mcp.CallToolParams{Name: "read_entry", Arguments: map[string]any{"uri": benchEntryURI}}
	require.JSONEq(b, structuredJSON(b, capsolSessions[0], params), structuredJSON(b, bareSessions[0], params),
		"the bare server must return the same result as capsol")

	for _, sessions := range []int{1, maxSessions} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			compareCalls(b, capsolSessions[:sessions], bareSessions[:sessions], params)
		})
	}
}

// readRoundCalls is the number of calls made to one server before switching
// to the other.
const readRoundCalls = 200

// compareCalls makes b.N calls to each server, switching every
// readRoundCalls calls and swapping which one goes first, and reports the
// rates, their ratio and the latency percentiles.
func compareCalls(b *testing.B, capsol, bare []*mcp.ClientSession, params *mcp.CallToolParams) {
	var capsolTime, bareTime time.Duration
	var capsolLatencies, bareLatencies []time.Duration
	runCapsol := func(n int) {
		elapsed, latencies := runConcurrentCalls(b, capsol, params, n)
		capsolTime += elapsed
		capsolLatencies = append(capsolLatencies, latencies...)
	}
	runBare := func(n int) {
		elapsed, latencies := runConcurrentCalls(b, bare, params, n)
		bareTime += elapsed
		bareLatencies = append(bareLatencies, latencies...)
	}

	b.ResetTimer()
	for round, done := 0, 0; done < b.N; round++ {
		n := min(readRoundCalls, b.N-done)
		if round%2 == 0 {
			runCapsol(n)
			runBare(n)
		} else {
			runBare(n)
			runCapsol(n)
		}
		done += n
	}
	b.StopTimer()

	capsolRate := float64(b.N) / capsolTime.Seconds()
	bareRate := float64(b.N) / bareTime.Seconds()
	b.ReportMetric(capsolRate, "capsol-calls/s")
	b.ReportMetric(bareRate, "bare-calls/s")
	b.ReportMetric(capsolRate/bareRate, "ratio")
	reportPercentiles(b, "capsol", capsolLatencies, time.Microsecond, "µs")
	reportPercentiles(b, "bare", bareLatencies, time.Microsecond, "µs")
}

// runConcurrentCalls makes n calls spread over the sessions, one goroutine
// per session, and returns the wall time and the latency of each call.
func runConcurrentCalls(b *testing.B, sessions []*mcp.ClientSession, params *mcp.CallToolParams, n int) (time.Duration, []time.Duration) {
	var next atomic.Int64
	perSession := make([][]time.Duration, len(sessions))
	var wg sync.WaitGroup
	started := time.Now()
	for i, session := range sessions {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				callStarted := time.Now()
				res, err := session.CallTool(context.Background(), params)
				latency := time.Since(callStarted)
				if err != nil {
					b.Errorf("call %s failed: %v", params.Name, err)
					return
				}
				if res.IsError {
					b.Errorf("%s returned a tool error: %+v", params.Name, res.Content)
					return
				}
				perSession[i] = append(perSession[i], latency)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	if b.Failed() {
		b.FailNow()
	}
	return elapsed, slices.Concat(perSession...)
}

// startBareServer serves one read_entry tool that returns entry from memory
// with the result fields of capsol's read_entry, on the Go SDK's Streamable
// HTTP handler with no authentication, audit or storage.
func startBareServer(b *testing.B, entry box.Entry) string {
	results := map[string]map[string]any{entry.URI: {
		"uri": entry.URI, "content": entry.Content, "content_type": entry.ContentType, "tags": entry.Tags,
		"version": entry.Version, "updated_at": entry.UpdatedAt, "updated_by": entry.UpdatedBy,
	}}
	srv := mcp.NewServer(&mcp.Implementation{Name: "bare", Version: "1.0.0"}, nil)
	type readArgs struct {
		URI string `json:"uri" jsonschema:"entry URI"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "read_entry", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in readArgs) (*mcp.CallToolResult, any, error) {
			result, ok := results[in.URI]
			if !ok {
				return nil, nil, fmt.Errorf("entry %s not found", in.URI)
			}
			return nil, result, nil
		})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	server := httptest.NewServer(handler)
	b.Cleanup(server.Close)
	return server.URL
}

// BenchmarkWriteEntry measures durable write_entry calls through the daemon
// against the raw baseline of the store benchmark: overwrite one file in
// place and fsync it. The raw file has the bytes of an entry file. Each
// iteration also calls Box.WriteEntry directly, which separates the cost of
// the box's durable write from the cost of the MCP request around it.
func BenchmarkWriteEntry(b *testing.B) {
	d := startBenchDaemon(b, b.TempDir())
	capsuleID := seedBenchCapsule(b, d)
	credential := seedBenchShare(b, d, capsuleID, store.RoleWriter)
	session := openBenchSessions(b, d.URL+"/mcp/"+capsuleID, credential, 1)[0]

	capsuleBox, err := d.Registry.Box(capsuleID)
	require.NoError(b, err)

	// Write every URI once so that the timed writes replace existing files,
	// as the raw baseline does.
	const uris = 64
	calls := make([]*mcp.CallToolParams, uris)
	direct := make([]box.WriteRequest, uris)
	for i := range uris {
		calls[i] = &mcp.CallToolParams{Name: "write_entry", Arguments: map[string]any{
			"uri": fmt.Sprintf("notes://design/mcp-%02d", i), "content": benchEntryContent, "tags": []string{"design"}}}
		res, err := session.CallTool(context.Background(), calls[i])
		require.NoError(b, err)
		require.False(b, res.IsError, "%+v", res.Content)

		direct[i] = box.WriteRequest{URI: fmt.Sprintf("notes://design/box-%02d", i), Content: benchEntryContent,
			Tags: []string{"design"}, UpdatedBy: "bench"}
		_, err = capsuleBox.WriteEntry(direct[i])
		require.NoError(b, err)
	}
	data, err := os.ReadFile(anyEntryFile(b, capsuleBox))
	require.NoError(b, err)
	rawPath := filepath.Join(d.Config.DataDir, "raw-baseline.json")
	require.NoError(b, rawWrite(rawPath, data))

	var rawTime, boxTime, mcpTime time.Duration
	for i := 0; b.Loop(); i++ {
		started := time.Now()
		if err := rawWrite(rawPath, data); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(started)

		started = time.Now()
		if _, err := capsuleBox.WriteEntry(direct[i%uris]); err != nil {
			b.Fatal(err)
		}
		boxTime += time.Since(started)

		started = time.Now()
		res, err := session.CallTool(context.Background(), calls[i%uris])
		mcpTime += time.Since(started)
		if err != nil {
			b.Fatal(err)
		}
		if res.IsError {
			b.Fatalf("write_entry returned a tool error: %+v", res.Content)
		}
	}

	rawRate := float64(b.N) / rawTime.Seconds()
	mcpRate := float64(b.N) / mcpTime.Seconds()
	b.ReportMetric(rawRate, "raw_writes/s")
	b.ReportMetric(float64(b.N)/boxTime.Seconds(), "box_writes/s")
	b.ReportMetric(mcpRate, "write_entry_calls/s")
	b.ReportMetric(mcpRate/rawRate, "ratio")
	b.ReportMetric(float64(len(data)), "bytes/file")
}

// rawWrite overwrites one existing file in place and fsyncs it, with no
// temporary file, rename or directory fsync. It is the baseline of the
// store's BenchmarkIndexWrite.
func rawWrite(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// anyEntryFile returns the path of one entry file of a box, whose files are
// entries/<hex SHA-256 of the URI>.json under the box directory.
func anyEntryFile(b *testing.B, capsuleBox *box.Box) string {
	dir := filepath.Join(capsuleBox.Dir(), "entries")
	files, err := os.ReadDir(dir)
	require.NoError(b, err)
	for _, f := range files {
		if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".json") {
			return filepath.Join(dir, f.Name())
		}
	}
	b.Fatalf("no entry file in %s", dir)
	return ""
}

// BenchmarkSearch10k measures search_entries over MCP on a capsule of
// 10,000 entries and, alternating with it on the same queries, Box.Search
// alone, and reports the median and 99th percentile latency of both.
//
// The data directory is on tmpfs, because 10,000 durable writes on ext4 add
// about 15 s of setup on a 2-core VM. Searches read entry files from the
// page cache on either file system, and on that VM this benchmark's p50
// figures on ext4 were within the run-to-run noise of those on tmpfs.
func BenchmarkSearch10k(b *testing.B) {
	d := startBenchDaemon(b, memoryBackedDir(b))
	capsuleID := seedBenchCapsule(b, d)
	credential := seedBenchShare(b, d, capsuleID, store.RoleReader)
	capsuleBox, err := d.Registry.Box(capsuleID)
	require.NoError(b, err)
	corpus := newSearchCorpus()
	for i := range 10_000 {
		_, err := capsuleBox.WriteEntry(corpus.entry(i))
		require.NoError(b, err)
	}
	session := openBenchSessions(b, d.URL+"/mcp/"+capsuleID, credential, 1)[0]
	queries := make([]string, 500)
	for i := range queries {
		queries[i] = corpus.query()
	}

	var mcpLatencies, boxLatencies []time.Duration
	for i := 0; b.Loop(); i++ {
		query := queries[i%len(queries)]

		started := time.Now()
		if _, err := capsuleBox.Search(query, "", 0); err != nil {
			b.Fatal(err)
		}
		boxLatencies = append(boxLatencies, time.Since(started))

		started = time.Now()
		res, err := session.CallTool(context.Background(), &mcp.CallToolParams{Name: "search_entries",
			Arguments: map[string]any{"query": query}})
		mcpLatencies = append(mcpLatencies, time.Since(started))
		if err != nil {
			b.Fatal(err)
		}
		if res.IsError {
			b.Fatalf("search_entries returned a tool error: %+v", res.Content)
		}
	}

	reportPercentiles(b, "mcp", mcpLatencies, time.Millisecond, "ms")
	reportPercentiles(b, "box", boxLatencies, time.Millisecond, "ms")
}

// searchCorpus generates Markdown entries of about 1.5 KiB: a heading, a few
// paragraphs and two tags. Words come from a vocabulary of 20,000 with
// Zipf-distributed frequencies, as in natural text, so that a query mixes
// words found in thousands of entries with words found in a few.
type searchCorpus struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	words []string
}

// frequentWords start the vocabulary, most frequent first.
var frequentWords = strings.Fields(`
the of and to in is for that on with as are this be by it from or an at not
we can will use when if which all must each one new more only after before
capsule entry agent share token grant search index backup restore audit log
server client request response session retry timeout latency error deploy
release rollback incident owner decision design review migration schema
database cache queue worker stream batch metric alert dashboard runbook
policy quota limit role reader writer operator principal credential secret
`)

func newSearchCorpus() *searchCorpus {
	rng := rand.New(rand.NewPCG(7, 11))
	words := slices.Clone(frequentWords)
	syllables := []string{"ar", "bel", "cor", "dun", "el", "fas", "gri", "hol", "ith", "jor", "kel", "lum", "mor", "nav"}
	for len(words) < 20_000 {
		var word strings.Builder
		for range 2 + rng.IntN(3) {
			word.WriteString(syllables[rng.IntN(len(syllables))])
		}
		words = append(words, word.String())
	}
	return &searchCorpus{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(words)-1)), words: words}
}

func (c *searchCorpus) sentence(words int) string {
	parts := make([]string, words)
	for i := range parts {
		parts[i] = c.words[c.zipf.Uint64()]
	}
	return strings.Join(parts, " ")
}

func (c *searchCorpus) entry(i int) box.WriteRequest {
	areas := []string{"design", "runbooks", "decisions", "incidents", "people", "api"}
	area := areas[i%len(areas)]
	var content strings.Builder
	fmt.Fprintf(&content, "# %s\n\n", c.sentence(3+c.rng.IntN(4)))
	for range 2 + c.rng.IntN(4) {
		content.WriteString(c.sentence(30 + c.rng.IntN(50)))
		content.WriteString(".\n\n")
	}
	return box.WriteRequest{
		URI:       fmt.Sprintf("notes://%s/%05d", area, i),
		Content:   content.String(),
		Tags:      []string{area, c.words[c.rng.IntN(len(frequentWords))]},
		UpdatedBy: "bench",
	}
}

// query returns one to three words, mostly frequent ones.
func (c *searchCorpus) query() string {
	return c.sentence(1 + c.rng.IntN(3))
}

// reportPercentiles reports the median and 99th percentile of latencies in
// unit, as metrics named <name>-p50-<unitName> and <name>-p99-<unitName>.
func reportPercentiles(b *testing.B, name string, latencies []time.Duration, unit time.Duration, unitName string) {
	if len(latencies) == 0 {
		return
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	b.ReportMetric(float64(sorted[len(sorted)/2])/float64(unit), name+"-p50-"+unitName)
	b.ReportMetric(float64(sorted[len(sorted)*99/100])/float64(unit), name+"-p99-"+unitName)
}

// structuredJSON calls a tool and returns its structured result as JSON.
func structuredJSON(b *testing.B, session *mcp.ClientSession, params *mcp.CallToolParams) string {
	res, err := session.CallTool(context.Background(), params)
	require.NoError(b, err)
	require.False(b, res.IsError, "%+v", res.Content)
	data, err := json.Marshal(res.StructuredContent)
	require.NoError(b, err)
	return string(data)
}

// The helpers below do for a benchmark what startDaemon, seedCapsule,
// seedShare and connect do for a test, which take a *testing.T.

// startBenchDaemon boots a daemon with its data in dataDir, its home in a
// temp dir and its listener on a free loopback port.
func startBenchDaemon(b *testing.B, dataDir string) *daemon.Daemon {
	listener, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(b, err)
	port := listener.Addr().(*net.TCPAddr).Port
	require.NoError(b, listener.Close())

	cfg := config.Config{
		DataDir: dataDir, Home: b.TempDir(), Listen: "127.0.0.1", Port: port,
		Env: config.Development, AdminKey: testAdminKey,
	}
	d, err := daemon.Boot(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(b, err)
	b.Cleanup(func() { _ = d.Shutdown() })
	return d
}

// memoryBackedDir returns a new directory on the tmpfs at /dev/shm, where
// fsync does no disk I/O, or a temp dir when there is no /dev/shm.
func memoryBackedDir(b *testing.B) string {
	if info, err := os.Stat("/dev/shm"); err != nil || !info.IsDir() {
		return b.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "capsol-bench-")
	require.NoError(b, err)
	b.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func seedBenchCapsule(b *testing.B, d *daemon.Daemon) string {
	id := ids.New(ids.Capsule)
	require.NoError(b, d.Store.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, store.Capsule{ID: id, Name: "bench", CreatedAt: time.Now().UTC()})
		return nil
	}))
	return id
}

// seedBenchShare adds an active share of capsuleID with role and returns its
// credential, storing only the credential's hash as the /v1 API does.
func seedBenchShare(b *testing.B, d *daemon.Daemon, capsuleID, role string) string {
	connectionID := ids.New(ids.Connection)
	credential := secret.NewToken(secret.PrefixShare)
	require.NoError(b, d.Store.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, store.Share{ConnectionID: connectionID, CapsuleID: capsuleID,
			PrincipalID: ids.New(ids.Principal), Label: "bench-" + role, Role: role, Kind: store.KindShare,
			Status: store.StatusActive, CreatedAt: time.Now().UTC()})
		return nil
	}))
	require.NoError(b, d.Store.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = append(doc.Credentials, store.Credential{Hash: secret.Hash(credential),
			Kind: store.CredentialShare, ConnectionID: &connectionID, CapsuleID: capsuleID, CreatedAt: time.Now().UTC()})
		return nil
	}))
	return credential
}

// openBenchSessions opens n MCP sessions to endpoint with the Go SDK
// client. The sessions share one HTTP transport that keeps enough idle
// connections for all of them, so calls reuse open TCP connections.
func openBenchSessions(b *testing.B, endpoint, credential string, n int) []*mcp.ClientSession {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 4 * n
	httpClient := &http.Client{Transport: bearerTransport{token: credential, base: transport}}
	b.Cleanup(transport.CloseIdleConnections)

	sessions := make([]*mcp.ClientSession, n)
	for i := range sessions {
		client := mcp.NewClient(&mcp.Implementation{Name: "capsol-bench", Version: "1.0.0"}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: endpoint, HTTPClient: httpClient, MaxRetries: -1,
		}, nil)
		cancel()
		require.NoError(b, err)
		b.Cleanup(func() { _ = session.Close() })
		sessions[i] = session
	}
	return sessions
}
