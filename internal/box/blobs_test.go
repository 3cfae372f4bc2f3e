package box

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPutBlobAndGetBlob(t *testing.T) {
	b := openTestBox(t, Options{})
	data := []byte("\x89PNG\r\n\x1a\nnot really a png")

	ref, size, err := b.PutBlob(data, "image/png")
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, "blob:sha256:"+hex.EncodeToString(sum[:]), ref)
	assert.Equal(t, int64(len(data)), size)

	got, contentType, err := b.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, "image/png", contentType)

	_, blobBytes := b.Stats()
	assert.Equal(t, int64(len(data)), blobBytes)
}

func TestPutBlobDeduplicates(t *testing.T) {
	gateCalls := 0
	b := openTestBox(t, Options{WriteGate: func() func() { gateCalls++; return func() {} }})
	data := []byte("same bytes")

	ref1, _, err := b.PutBlob(data, "text/plain")
	require.NoError(t, err)
	path := filepath.Join(b.blobDir(), ref1[len(blobRefPrefix):])
	before, err := os.Stat(path)
	require.NoError(t, err)

	ref2, _, err := b.PutBlob(data, "application/x-other")
	require.NoError(t, err)
	assert.Equal(t, ref1, ref2)

	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the blob file was written again")

	_, contentType, err := b.GetBlob(ref1)
	require.NoError(t, err)
	assert.Equal(t, "text/plain", contentType, "the first content type is kept")

	_, blobBytes := b.Stats()
	assert.Equal(t, int64(len(data)), blobBytes, "a deduplicated blob is counted once")
	assert.Equal(t, 2, gateCalls)
}

func TestPutBlobDefaultsAndLimits(t *testing.T) {
	b := openTestBox(t, Options{})

	ref, size, err := b.PutBlob(nil, "")
	require.NoError(t, err)
	assert.Zero(t, size)
	_, contentType, err := b.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, DefaultBlobContentType, contentType)

	_, _, err = b.PutBlob(make([]byte, MaxBlobBytes+1), "application/octet-stream")
	assert.ErrorIs(t, err, ErrTooLarge)

	_, _, err = b.PutBlob([]byte("x"), "no slash")
	assert.ErrorIs(t, err, ErrInvalidRequest)

	_, blobBytes := b.Stats()
	assert.Zero(t, blobBytes)
}

func TestGetBlobRejectsBadRefs(t *testing.T) {
	b := openTestBox(t, Options{})
	cases := []struct {
		name string
		ref  string
		want error
	}{
		{"traversal", "blob:sha256:../../memory.json", ErrInvalidURI},
		{"uppercase", "blob:sha256:" + strings.ToUpper("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), ErrInvalidURI},
		{"no prefix", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ErrInvalidURI},
		{"unknown", "blob:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := b.GetBlob(tc.ref)
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestGetBlobDetectsDamage(t *testing.T) {
	b := openTestBox(t, Options{})
	ref, _, err := b.PutBlob([]byte("original"), "text/plain")
	require.NoError(t, err)
	path := filepath.Join(b.blobDir(), ref[len(blobRefPrefix):])
	require.NoError(t, os.WriteFile(path, []byte("damaged!"), 0o600))

	_, _, err = b.GetBlob(ref)
	assert.ErrorIs(t, err, ErrCorrupt)

	// Putting the bytes again restores the blob.
	_, _, err = b.PutBlob([]byte("original"), "text/plain")
	require.NoError(t, err)
	data, _, err := b.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, []byte("original"), data)
}

func TestPutBlobRestoresMissingContentType(t *testing.T) {
	b := openTestBox(t, Options{})
	ref, _, err := b.PutBlob([]byte("data"), "text/csv")
	require.NoError(t, err)
	digest := ref[len(blobRefPrefix):]
	require.NoError(t, os.Remove(filepath.Join(b.blobDir(), digest+".json")))

	_, contentType, err := b.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, DefaultBlobContentType, contentType)

	_, _, err = b.PutBlob([]byte("data"), "text/csv")
	require.NoError(t, err)
	_, contentType, err = b.GetBlob(ref)
	require.NoError(t, err)
	assert.Equal(t, "text/csv", contentType)
}
