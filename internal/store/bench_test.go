package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/capsol/capsol/internal/ids"
)

// benchDoc is a capsules document of about 4 KiB, the size of a small
// registry's index file.
func benchDoc() CapsulesDoc {
	doc := CapsulesDoc{}
	for i := 0; i < 16; i++ {
		doc.Capsules = append(doc.Capsules, Capsule{ID: ids.New(ids.Capsule), Name: fmt.Sprintf("capsule %d", i), CreatedAt: time.Now().UTC()})
	}
	return doc
}

// rawWrite is the baseline: overwrite one existing file in place and fsync
// it, with no temporary file, rename or directory fsync.
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

// BenchmarkIndexWrite measures durable index writes against the raw
// write+fsync baseline on the same disk, interleaved in the same run, and
// reports both rates and their ratio.
func BenchmarkIndexWrite(b *testing.B) {
	dir := b.TempDir()
	if err := Initialize(dir); err != nil {
		b.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc()
	data, err := encodeDocument(doc)
	if err != nil {
		b.Fatal(err)
	}
	rawPath := filepath.Join(dir, "raw-baseline.json")

	var rawTime, durableTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		started := time.Now()
		if err := rawWrite(rawPath, data); err != nil {
			b.Fatal(err)
		}
		rawTime += time.Since(started)

		started = time.Now()
		if err := s.Capsules.Update(func(d *CapsulesDoc) error { *d = doc; return nil }); err != nil {
			b.Fatal(err)
		}
		durableTime += time.Since(started)
	}
	b.StopTimer()

	rawRate := float64(b.N) / rawTime.Seconds()
	durableRate := float64(b.N) / durableTime.Seconds()
	b.ReportMetric(rawRate, "raw_writes/s")
	b.ReportMetric(durableRate, "durable_writes/s")
	b.ReportMetric(durableRate/rawRate, "ratio")
	b.ReportMetric(float64(len(data)), "bytes/file")
}

// BenchmarkConcurrentIndexWrites runs one writer per index file on four
// different files and reports the aggregate rate and its ratio to a single
// writer measured in the same run: above 1 means writers to different files
// do not serialize.
func BenchmarkConcurrentIndexWrites(b *testing.B) {
	dir := b.TempDir()
	if err := Initialize(dir); err != nil {
		b.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	payload := benchDoc()
	writers := []func() error{
		func() error { return s.Capsules.Update(func(d *CapsulesDoc) error { *d = payload; return nil }) },
		func() error { return s.Shares.Update(func(d *SharesDoc) error { return nil }) },
		func() error { return s.Grants.Update(func(d *GrantsDoc) error { return nil }) },
		func() error { return s.Principals.Update(func(d *PrincipalsDoc) error { return nil }) },
	}

	b.ResetTimer()
	started := time.Now()
	for i := 0; i < b.N; i++ {
		if err := writers[0](); err != nil {
			b.Fatal(err)
		}
	}
	single := float64(b.N) / time.Since(started).Seconds()

	started = time.Now()
	var wg sync.WaitGroup
	for _, write := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < b.N; i++ {
				if err := write(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	concurrent := float64(b.N*len(writers)) / time.Since(started).Seconds()
	b.StopTimer()

	b.ReportMetric(single, "single_writes/s")
	b.ReportMetric(concurrent, "concurrent_writes/s")
	b.ReportMetric(concurrent/single, "scaling")
}
