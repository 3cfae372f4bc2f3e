package box

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendSignalStoresEntry(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})

	uri, expiresAt, err := b.SendSignal("deploys", "deploy 42 finished", time.Minute)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(uri, "notes://signals/deploys/"), uri)
	assert.NoError(t, ValidateURI(uri))
	assert.Equal(t, clock.Now().Add(time.Minute), expiresAt)

	entry, err := b.ReadEntry(uri)
	require.NoError(t, err)
	assert.Equal(t, "deploy 42 finished", entry.Content)
	assert.Equal(t, int64(1), entry.Version)
	require.NotNil(t, entry.ExpiresAt)
	assert.Equal(t, expiresAt, *entry.ExpiresAt)

	hits, err := b.Search("deploy", "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{uri}, hitURIs(hits))
}

func TestSendSignalDefaultTTL(t *testing.T) {
	clock := newFakeClock()
	cases := []struct {
		name string
		opts time.Duration
		want time.Duration
	}{
		{"package default", 0, DefaultSignalTTL},
		{"option", time.Hour, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{Now: clock.Now, SignalTTL: tc.opts})
			_, expiresAt, err := b.SendSignal("t", "m", 0)
			require.NoError(t, err)
			assert.Equal(t, clock.Now().Add(tc.want), expiresAt)
		})
	}
}

func TestSignalExpiry(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	var changed []string
	b := openTestBox(t, Options{Now: clock.Now, OnChange: func(uri string) {
		mu.Lock()
		defer mu.Unlock()
		changed = append(changed, uri)
	}})

	short, _, err := b.SendSignal("t", "short-lived", time.Minute)
	require.NoError(t, err)
	long, _, err := b.SendSignal("t", "long-lived", time.Hour)
	require.NoError(t, err)

	clock.Advance(time.Minute)

	// Expired but not yet collected: hidden from every read.
	_, err = b.ReadEntry(short)
	assert.ErrorIs(t, err, ErrNotFound)
	signals, err := b.ListSignals("t", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{long}, signalURIs(signals))
	metas, _, err := b.ListEntries(signalPrefix, "", 0)
	require.NoError(t, err)
	assert.Equal(t, []string{long}, uris(metas))
	hits, err := b.Search("short", "", 0)
	require.NoError(t, err)
	assert.Empty(t, hits)
	count, _ := b.Stats()
	assert.Equal(t, 1, count)
	_, err = b.readRecord(short)
	require.NoError(t, err, "the file stays until a signal write collects it")

	// The next signal write collects it.
	third, _, err := b.SendSignal("other", "third", time.Hour)
	require.NoError(t, err)
	_, err = b.readRecord(short)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, []string{short, long, short, third}, changed)

	count, _ = b.Stats()
	assert.Equal(t, 2, count)
}

func TestListSignalsOrderTopicAndSince(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})

	var sent []string
	for i, topic := range []string{"b", "a", "b", "a"} {
		uri, _, err := b.SendSignal(topic, "message "+string(rune('0'+i)), time.Hour)
		require.NoError(t, err)
		sent = append(sent, uri)
		if i%2 == 1 {
			clock.Advance(time.Second)
		}
	}
	start := newFakeClock().Now()

	all, err := b.ListSignals("", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, sent, signalURIs(all), "signals must come oldest first across topics")
	assert.Equal(t, "b", all[0].Topic)
	assert.Equal(t, "message 0", all[0].Message)
	assert.Equal(t, start, all[0].SentAt)
	assert.Equal(t, start.Add(time.Hour), all[0].ExpiresAt)

	topicA, err := b.ListSignals("a", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{sent[1], sent[3]}, signalURIs(topicA))

	recent, err := b.ListSignals("", start.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, sent[2:], signalURIs(recent), "since is inclusive")
}

func TestSignalsSameInstantKeepOrder(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})
	var sent []string
	for range 50 {
		uri, _, err := b.SendSignal("burst", "m", time.Hour)
		require.NoError(t, err)
		sent = append(sent, uri)
	}
	listed, err := b.ListSignals("burst", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, sent, signalURIs(listed))
}

func TestSendSignalRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		topic   string
		message string
		ttl     time.Duration
		want    error
	}{
		{"empty topic", "", "m", 0, ErrInvalidRequest},
		{"dot dot topic", "..", "m", 0, ErrInvalidRequest},
		{"slash in topic", "a/b", "m", 0, ErrInvalidRequest},
		{"escape in topic", "a%2Fb", "m", 0, ErrInvalidRequest},
		{"long topic", strings.Repeat("t", MaxTopicBytes+1), "m", 0, ErrInvalidRequest},
		{"empty message", "t", "", 0, ErrInvalidRequest},
		{"invalid UTF-8", "t", "\xff", 0, ErrInvalidRequest},
		{"large message", "t", strings.Repeat("m", MaxEntryBytes+1), 0, ErrTooLarge},
		{"negative ttl", "t", "m", -time.Second, ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			_, _, err := b.SendSignal(tc.topic, tc.message, tc.ttl)
			assert.ErrorIs(t, err, tc.want)
			count, _ := b.Stats()
			assert.Zero(t, count)
		})
	}

	b := openTestBox(t, Options{})
	_, err := b.ListSignals("a/b", time.Time{})
	assert.ErrorIs(t, err, ErrInvalidRequest)
}

func TestSignalsAreReserved(t *testing.T) {
	b := openTestBox(t, Options{})
	uri, _, err := b.SendSignal("t", "m", time.Hour)
	require.NoError(t, err)

	_, err = b.WriteEntry(WriteRequest{URI: uri, Content: "overwrite"})
	assert.ErrorIs(t, err, ErrInvalidURI)
	_, err = b.WriteEntry(WriteRequest{URI: "notes://signals/t/new", Content: "forged"})
	assert.ErrorIs(t, err, ErrInvalidURI)
	assert.ErrorIs(t, b.DeleteEntry(uri, nil), ErrInvalidURI)

	// Outside the reserved prefix the same words are ordinary paths.
	write(t, b, "notes://signals", "not reserved")
	write(t, b, "notes://signalsx/t", "not reserved")
	write(t, b, "other://signals/t/x", "not reserved")
}

func TestSignalsSurviveReopen(t *testing.T) {
	clock := newFakeClock()
	b := openTestBox(t, Options{Now: clock.Now})
	uri, _, err := b.SendSignal("t", "persisted", time.Hour)
	require.NoError(t, err)

	reopened := reopen(t, b)
	signals, err := reopened.ListSignals("t", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []string{uri}, signalURIs(signals))

	clock.Advance(2 * time.Hour)
	signals, err = reopened.ListSignals("t", time.Time{})
	require.NoError(t, err)
	assert.Empty(t, signals)
}

func signalURIs(signals []Signal) []string {
	var out []string
	for _, s := range signals {
		out = append(out, s.URI)
	}
	return out
}
