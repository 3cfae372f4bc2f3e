// Package genregistry writes synthetic data directories for benchmarks,
// drills and tests: the index files through internal/store, and per capsule
// a box of Markdown entries, a blob, a key–value memory and a day of audit
// log. The daemon never uses it.
//
// Box files are written directly, without the fsync per file that
// internal/box does, because a 1 GB registry of 10,000 capsules has about
// 100,000 files. Their format is that of internal/box: Generate opens a
// sample of the boxes with box.Open, which rejects any entry file whose
// JSON, URI or name is wrong.
package genregistry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/capsol/capsol/internal/auditlog"
	"github.com/capsol/capsol/internal/box"
	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Options describes the registry to generate.
type Options struct {
	// Dir is the data directory to create. It must not exist or be empty.
	Dir string
	// Capsules is the number of capsules. 0 means 1.
	Capsules int
	// Size is the approximate total size of the box files in bytes: about
	// 70% entries, 25% blobs (incompressible, like images) and the rest
	// memory and audit logs.
	Size int64
	// Seed makes the box content reproducible; ids and credentials are
	// random all the same.
	Seed uint64
	// Workers is the number of capsules written at once. 0 means
	// GOMAXPROCS.
	Workers int
	// Now is the time the content is dated around. Zero means time.Now.
	Now time.Time
	// Progress, when set, is called after each capsule.
	Progress func(done, total int)
}

// Result describes a generated registry.
type Result struct {
	Dir      string   `json:"dir"`
	Capsules int      `json:"capsules"`
	Files    int64    `json:"files"`
	Bytes    int64    `json:"bytes"`
	IDs      []string `json:"-"`
}

// samplesChecked is how many boxes Generate opens with box.Open.
const samplesChecked = 5

// Generate writes the registry that opts describe.
func Generate(opts Options) (*Result, error) {
	if opts.Capsules <= 0 {
		opts.Capsules = 1
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	if err := checkEmpty(opts.Dir); err != nil {
		return nil, err
	}
	if err := fsutil.MkdirAll(opts.Dir); err != nil {
		return nil, err
	}
	if err := store.Initialize(opts.Dir); err != nil {
		return nil, fmt.Errorf("initialize %s: %w", opts.Dir, err)
	}

	capsules := newCapsules(opts)
	res := &Result{Dir: opts.Dir, Capsules: len(capsules)}
	for _, c := range capsules {
		res.IDs = append(res.IDs, c.ID)
	}
	if err := writeIndex(opts, capsules); err != nil {
		return nil, err
	}
	if err := writeBoxes(opts, capsules, res); err != nil {
		return nil, err
	}
	if err := checkSamples(opts.Dir, capsules); err != nil {
		return nil, err
	}
	return res, nil
}

func checkEmpty(dir string) error {
	if dir == "" {
		return errors.New("no directory given")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty; generate into a new directory", dir)
	}
	return nil
}

func newCapsules(opts Options) []store.Capsule {
	capsules := make([]store.Capsule, opts.Capsules)
	rng := rand.New(rand.NewPCG(opts.Seed, 1))
	for i := range capsules {
		created := opts.Now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour).Truncate(time.Second)
		capsules[i] = store.Capsule{
			ID:        ids.New(ids.Capsule),
			Name:      fmt.Sprintf("%s %s %d", pick(rng, words), pick(rng, topics), i+1),
			CreatedAt: created,
		}
	}
	return capsules
}

// writeIndex records the capsules and one reader share per capsule, with
// its agent principal and credential hash, in the index files.
func writeIndex(opts Options, capsules []store.Capsule) error {
	st, err := store.Open(opts.Dir, store.Options{})
	if err != nil {
		return err
	}
	if err := st.Capsules.Update(func(doc *store.CapsulesDoc) error {
		doc.Capsules = append(doc.Capsules, capsules...)
		return nil
	}); err != nil {
		return err
	}

	principals := make([]store.Principal, len(capsules))
	shares := make([]store.Share, len(capsules))
	credentials := make([]store.Credential, len(capsules))
	for i, c := range capsules {
		label := fmt.Sprintf("agent-%d", i+1)
		principals[i] = store.Principal{ID: ids.New(ids.Principal), Kind: store.PrincipalAgent, Name: label, CreatedAt: c.CreatedAt}
		shares[i] = store.Share{
			ConnectionID: ids.New(ids.Connection), CapsuleID: c.ID, PrincipalID: principals[i].ID,
			Label: label, Role: store.RoleReader, Kind: store.KindShare, Status: store.StatusActive, CreatedAt: c.CreatedAt,
		}
		connectionID := shares[i].ConnectionID
		credentials[i] = store.Credential{
			Hash: secret.Hash(secret.NewToken(secret.PrefixShare)), Kind: store.CredentialShare,
			ConnectionID: &connectionID, CapsuleID: c.ID, CreatedAt: c.CreatedAt,
		}
	}
	if err := st.Principals.Update(func(doc *store.PrincipalsDoc) error {
		doc.Principals = append(doc.Principals, principals...)
		return nil
	}); err != nil {
		return err
	}
	if err := st.Shares.Update(func(doc *store.SharesDoc) error {
		doc.Shares = append(doc.Shares, shares...)
		return nil
	}); err != nil {
		return err
	}
	return st.Credentials.Update(func(doc *store.CredentialsDoc) error {
		doc.Credentials = append(doc.Credentials, credentials...)
		return nil
	})
}

func writeBoxes(opts Options, capsules []store.Capsule, res *Result) error {
	budget := max(opts.Size/int64(len(capsules)), 4<<10)
	var (
		next, done   atomic.Int64
		files, bytes atomic.Int64
		wg           sync.WaitGroup
		errOnce      sync.Once
		firstErr     error
	)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newBoxWriter()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(capsules) || firstErr != nil {
					return
				}
				n, size, err := w.write(opts, capsules[i], i, budget)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				files.Add(n)
				bytes.Add(size)
				if opts.Progress != nil {
					opts.Progress(int(done.Add(1)), len(capsules))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	res.Files, res.Bytes = files.Load(), bytes.Load()
	return nil
}

// entryRecord is the JSON document of an entry file of internal/box.
type entryRecord struct {
	URI         string    `json:"uri"`
	ContentType string    `json:"content_type"`
	Tags        []string  `json:"tags"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
	Content     string    `json:"content"`
}

// blobInfo is the JSON document stored next to a blob of internal/box.
type blobInfo struct {
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// boxWriter writes the box of one capsule at a time; each worker has one.
type boxWriter struct {
	text bytes.Buffer
	blob []byte
}

func newBoxWriter() *boxWriter { return &boxWriter{} }

// write creates the box of capsule number i with about budget bytes and
// returns the number of files and bytes written.
func (w *boxWriter) write(opts Options, c store.Capsule, i int, budget int64) (files, size int64, err error) {
	rng := rand.New(rand.NewPCG(opts.Seed, uint64(i)+2))
	dir := filepath.Join(opts.Dir, store.BoxesDir, c.ID, ".capsol")
	entriesDir := filepath.Join(dir, "entries")
	blobDir := filepath.Join(dir, "blobs", "sha256")
	for _, d := range []string{entriesDir, blobDir} {
		if err := os.MkdirAll(d, fsutil.DirMode); err != nil {
			return 0, 0, err
		}
	}
	put := func(path string, data []byte) error {
		files++
		size += int64(len(data))
		return os.WriteFile(path, data, fsutil.FileMode)
	}

	// Entries: Markdown notes of 2-12 KB until 70% of the budget is used.
	entryBudget := budget * 70 / 100
	for n := 0; n == 0 || size < entryBudget; n++ {
		rec := w.entry(rng, c, n, min(int(entryBudget-size), 2<<10+rng.IntN(10<<10)))
		data, err := marshalJSON(rec)
		if err != nil {
			return files, size, err
		}
		sum := sha256.Sum256([]byte(rec.URI))
		if err := put(filepath.Join(entriesDir, hex.EncodeToString(sum[:])+".json"), data); err != nil {
			return files, size, err
		}
	}

	// One blob of random bytes, as incompressible as an image.
	blobSize := max(budget*25/100, 64)
	if int64(cap(w.blob)) < blobSize {
		w.blob = make([]byte, blobSize)
	}
	blob := w.blob[:blobSize]
	fillRandom(rng, blob)
	sum := sha256.Sum256(blob)
	digest := hex.EncodeToString(sum[:])
	if err := put(filepath.Join(blobDir, digest), blob); err != nil {
		return files, size, err
	}
	info, err := marshalJSON(blobInfo{ContentType: "image/png", Size: blobSize})
	if err != nil {
		return files, size, err
	}
	if err := put(filepath.Join(blobDir, digest+".json"), info); err != nil {
		return files, size, err
	}

	memory := map[string]string{
		"project/owner":  pick(rng, words) + "@example.com",
		"project/status": pick(rng, []string{"active", "paused", "done"}),
		"last/summary":   w.paragraph(rng, 200),
	}
	data, err := marshalJSON(memory)
	if err != nil {
		return files, size, err
	}
	if err := put(filepath.Join(dir, "memory.json"), data); err != nil {
		return files, size, err
	}

	logSize, err := writeLog(filepath.Join(dir, "logs"), rng, c, opts.Now, budget*4/100)
	files++
	size += logSize
	return files, size, err
}

func (w *boxWriter) entry(rng *rand.Rand, c store.Capsule, n, length int) entryRecord {
	topic := pick(rng, topics)
	slug := pick(rng, words) + "-" + pick(rng, words)
	title := strings.ToUpper(slug[:1]) + strings.ReplaceAll(slug[1:], "-", " ")
	w.text.Reset()
	fmt.Fprintf(&w.text, "# %s\n\n", title)
	for w.text.Len() < length {
		if rng.IntN(5) == 0 {
			fmt.Fprintf(&w.text, "## %s\n\n", pick(rng, words))
		}
		w.text.WriteString(w.paragraph(rng, 200+rng.IntN(600)))
		w.text.WriteString("\n\n")
	}
	return entryRecord{
		URI:         fmt.Sprintf("notes://%s/%s-%d", topic, slug, n),
		ContentType: box.DefaultContentType,
		Tags:        []string{topic, pick(rng, words)},
		Version:     int64(1 + rng.IntN(3)),
		UpdatedAt:   c.CreatedAt.Add(time.Duration(rng.IntN(3600*24)) * time.Second).UTC(),
		UpdatedBy:   "con_" + strings.Repeat("0", 26),
		Content:     w.text.String(),
	}
}

// paragraph returns about length bytes of sentences.
func (w *boxWriter) paragraph(rng *rand.Rand, length int) string {
	var b strings.Builder
	b.Grow(length + 16)
	for b.Len() < length {
		for i, n := 0, 6+rng.IntN(12); i < n; i++ {
			word := pick(rng, words)
			if i == 0 {
				word = strings.ToUpper(word[:1]) + word[1:]
			} else {
				b.WriteByte(' ')
			}
			b.WriteString(word)
		}
		b.WriteString(". ")
	}
	return strings.TrimSpace(b.String())
}

// writeLog writes a capsule audit log of about size bytes through
// internal/auditlog, so the hash chain is real, and returns its size.
func writeLog(dir string, rng *rand.Rand, c store.Capsule, now time.Time, size int64) (int64, error) {
	day := now.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	l, err := auditlog.Open(dir, auditlog.Options{Now: func() time.Time { return now }})
	if err != nil {
		return 0, err
	}
	tools := []string{"capsule_info", "list_entries", "read_entry", "search_entries", "write_entry", "recall"}
	lines := max(size/250, 1)
	for i := range lines {
		err := l.Append(auditlog.CapsuleRecord{
			TS:           day.Add(time.Duration(i) * time.Minute),
			ConnectionID: "con_" + strings.Repeat("0", 26),
			Kind:         store.KindShare,
			Method:       "tools/call",
			Tool:         pick(rng, tools),
			Outcome:      auditlog.OutcomeOK,
			DurationMS:   int64(rng.IntN(40)),
			RemoteAddr:   "127.0.0.1",
		})
		if err != nil {
			_ = l.Close()
			return 0, err
		}
	}
	if err := l.Close(); err != nil {
		return 0, err
	}
	info, err := os.Stat(filepath.Join(dir, day.Format(time.DateOnly)+".jsonl"))
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// checkSamples opens the first boxes with box.Open, which parses every
// entry file, and checks that each has entries and a readable blob.
func checkSamples(dir string, capsules []store.Capsule) error {
	for _, c := range capsules[:min(len(capsules), samplesChecked)] {
		b, err := box.Open(filepath.Join(dir, store.BoxesDir, c.ID, ".capsol"), box.Options{})
		if err != nil {
			return fmt.Errorf("generated box does not open: %w", err)
		}
		if count, blobBytes := b.Stats(); count == 0 || blobBytes == 0 {
			return fmt.Errorf("generated box of %s has %d entries and %d blob bytes, expected some of each", c.ID, count, blobBytes)
		}
	}
	return nil
}

// marshalJSON encodes v as internal/box does: one line, no HTML escaping,
// a final newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func fillRandom(rng *rand.Rand, b []byte) {
	for len(b) >= 8 {
		v := rng.Uint64()
		for i := range 8 {
			b[i] = byte(v >> (8 * i))
		}
		b = b[8:]
	}
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

var topics = []string{"design", "runbooks", "decisions", "research", "incidents", "onboarding", "api", "meetings"}

var words = strings.Fields(`
agent alpha archive backup beacon binary boundary buffer cache capsule cluster
commit config contract cursor daemon deadline debug default deploy digest
drift editor endpoint entry event export failover feature field filter fixture
format gateway grant handler header health index invariant journal kernel
latency layer ledger limit lock manifest memory merge metric migration mirror
module network node notion offset operator outage owner packet parser patch
payload pipeline policy port prefix probe queue quota range reader record
region release replica request restore retry review rollback route runtime
schema scope secret segment session shard signal snapshot socket source
stream summary switch tenant thread ticket timeout token topic trace tunnel
update upgrade uptime vector version volume warning window worker writer zone
`)

// cacheVersion changes when the generated content changes, so that a
// cached registry of an older generator is not reused.
const cacheVersion = 1

// Cached returns the data directory of a registry of about size bytes and
// the given number of capsules, generating it on first use under
// os.TempDir()/capsol-bench. Benchmarks use it so that a 1 GB registry is
// written once per machine. A marker file records a finished generation,
// so an interrupted one is generated again.
func Cached(size int64, capsules int) (string, error) {
	root := filepath.Join(os.TempDir(), "capsol-bench", fmt.Sprintf("v%d-%d-bytes-%d-capsules", cacheVersion, size, capsules))
	dir := filepath.Join(root, "registry-data")
	marker := filepath.Join(root, "complete")
	if _, err := os.Stat(marker); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(root); err != nil {
		return "", err
	}
	if _, err := Generate(Options{Dir: dir, Capsules: capsules, Size: size, Seed: 1}); err != nil {
		return "", err
	}
	if err := os.WriteFile(marker, nil, fsutil.FileMode); err != nil {
		return "", err
	}
	return dir, nil
}
