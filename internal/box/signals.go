package box

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// Signal defaults and limits.
const (
	DefaultSignalTTL  = 24 * time.Hour
	MaxTopicBytes     = 64
	signalContentType = "text/plain"
)

// Signal is a short-lived message between agents, stored as the entry
// notes://signals/<topic>/<id> until it expires.
type Signal struct {
	URI       string    `json:"uri"`
	Topic     string    `json:"topic"`
	Message   string    `json:"message"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SendSignal stores message as a new entry notes://signals/<topic>/<id> that
// expires ttl from now, and returns its URI and expiry. ttl 0 means
// Options.SignalTTL. The id is a lowercase ULID, so within a topic the URIs
// sort in the order the signals were sent. Before it stores the signal,
// SendSignal deletes the box's expired signals.
func (b *Box) SendSignal(topic, message string, ttl time.Duration) (uri string, expiresAt time.Time, err error) {
	if err := checkTopic(topic); err != nil {
		return "", time.Time{}, err
	}
	if err := checkSignalMessage(topic, message); err != nil {
		return "", time.Time{}, err
	}
	if ttl < 0 {
		return "", time.Time{}, newError(CodeInvalidRequest, "ttl %v is negative; pass a positive ttl, or omit it for the default of %v",
			ttl, b.opts.SignalTTL)
	}
	if ttl == 0 {
		ttl = b.opts.SignalTTL
	}
	title := titleOf(message, signalContentType)
	terms := analyze(title, message, nil)

	uri, expiresAt, collected, err := b.storeSignal(topic, message, ttl, title, terms)
	b.notify(collected...)
	if err != nil {
		return "", time.Time{}, err
	}
	b.notify(uri)
	return uri, expiresAt, nil
}

func (b *Box) storeSignal(topic, message string, ttl time.Duration, title string, terms analysis) (
	uri string, expiresAt time.Time, collected []string, err error,
) {
	end := b.beginWrite()
	defer end()

	now := b.now()
	collected, err = b.collectExpiredSignals(now)
	if err != nil {
		return "", time.Time{}, collected, fmt.Errorf("collect expired signals: %w", err)
	}

	id, err := ulid.New(ulid.Timestamp(now), b.signalEntropy)
	if err != nil {
		return "", time.Time{}, collected, fmt.Errorf("create signal id at %v: %w", now, err)
	}
	uri = signalPrefix + topic + "/" + strings.ToLower(id.String())
	expiresAt = now.Add(ttl)
	rec := &entryRecord{
		URI:         uri,
		ContentType: signalContentType,
		Tags:        []string{},
		Version:     1,
		UpdatedAt:   now,
		ExpiresAt:   &expiresAt,
		Content:     message,
	}
	if err := b.writeRecord(rec, title, terms); err != nil {
		return "", time.Time{}, collected, err
	}
	return uri, expiresAt, collected, nil
}

// collectExpiredSignals deletes the signals that expired at or before now
// and returns their URIs. The caller holds the write lock, which is what
// lets it read the index without b.mu.
func (b *Box) collectExpiredSignals(now time.Time) ([]string, error) {
	var expired []string
	for i := b.idx.rangeStart(signalPrefix, ""); i < len(b.idx.sorted); i++ {
		uri := b.idx.sorted[i]
		if !isSignalURI(uri) {
			break
		}
		if !b.idx.get(uri).live(now) {
			expired = append(expired, uri)
		}
	}
	if len(expired) == 0 {
		return nil, nil
	}
	return b.removeEntries(expired)
}

// ListSignals returns the live signals of topic, or of every topic when
// topic is "", that were sent at or after since, oldest first. A zero since
// returns all of them.
func (b *Box) ListSignals(topic string, since time.Time) ([]Signal, error) {
	prefix := signalPrefix
	if topic != "" {
		if err := checkTopic(topic); err != nil {
			return nil, err
		}
		prefix += topic + "/"
	}

	now := b.now()
	var metas []*docMeta
	b.mu.RLock()
	for i := b.idx.rangeStart(prefix, ""); i < len(b.idx.sorted); i++ {
		uri := b.idx.sorted[i]
		if !strings.HasPrefix(uri, prefix) {
			break
		}
		meta := b.idx.get(uri)
		if meta.live(now) && !meta.updatedAt.Before(since) {
			metas = append(metas, meta)
		}
	}
	b.mu.RUnlock()

	// Signals sent at the same instant are ordered by id, which grows
	// with every send.
	slices.SortFunc(metas, func(x, y *docMeta) int {
		if c := x.updatedAt.Compare(y.updatedAt); c != 0 {
			return c
		}
		return strings.Compare(signalID(x.uri), signalID(y.uri))
	})

	signals := make([]Signal, 0, len(metas))
	for _, meta := range metas {
		rec, err := b.readRecord(meta.uri)
		if errors.Is(err, ErrNotFound) {
			continue // collected since the index was read
		}
		if err != nil {
			return nil, err
		}
		signalTopic, _, _ := strings.Cut(strings.TrimPrefix(rec.URI, signalPrefix), "/")
		signals = append(signals, Signal{
			URI:       rec.URI,
			Topic:     signalTopic,
			Message:   rec.Content,
			SentAt:    rec.UpdatedAt,
			ExpiresAt: meta.expiresAt,
		})
	}
	return signals, nil
}

// signalID returns the last segment of a signal's URI, its ULID.
func signalID(uri string) string {
	return uri[strings.LastIndexByte(uri, '/')+1:]
}

// checkTopic accepts 1–64 unreserved URI characters other than "." and "..",
// so a topic is always one plain segment of the signal's URI.
func checkTopic(topic string) error {
	const fix = `use 1 to 64 letters, digits, "-", ".", "_" or "~", such as "deploys"`
	if topic == "" || len(topic) > MaxTopicBytes || topic == "." || topic == ".." {
		return newError(CodeInvalidRequest, "the topic %s is invalid; %s", quote(topic), fix)
	}
	for i := 0; i < len(topic); i++ {
		if !isUnreserved(topic[i]) {
			return newError(CodeInvalidRequest, "the topic %s contains %s; %s", quote(topic), quote(topic[i:i+1]), fix)
		}
	}
	return nil
}

func checkSignalMessage(topic, message string) error {
	switch {
	case message == "":
		return newError(CodeInvalidRequest, "the message for topic %s is empty; pass the text to send", quote(topic))
	case len(message) > MaxEntryBytes:
		return newError(CodeTooLarge, "the message for topic %s is %d bytes, over the maximum of %d (1 MiB); send a shorter message",
			quote(topic), len(message), MaxEntryBytes)
	case !utf8.ValidString(message):
		return newError(CodeInvalidRequest, "the message for topic %s is not valid UTF-8; send text", quote(topic))
	}
	return nil
}
