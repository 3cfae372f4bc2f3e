package box

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/capsol/capsol/internal/fsutil"
)

// Blob limits and defaults.
const (
	MaxBlobBytes           = 16 << 20
	DefaultBlobContentType = "application/octet-stream"
)

// blobInfo is the JSON document stored next to a blob as <hex>.json.
type blobInfo struct {
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// PutBlob stores data and returns its ref, blob:sha256:<hex digest>, and its
// size. Equal bytes get the same ref and are stored once. The content type of
// the first PutBlob of some bytes is kept, and later ones do not change it.
// An empty contentType means DefaultBlobContentType.
func (b *Box) PutBlob(data []byte, contentType string) (ref string, size int64, err error) {
	if len(data) > MaxBlobBytes {
		return "", 0, newError(CodeTooLarge, "the blob is %d bytes, over the maximum of %d (16 MiB); split it into smaller blobs",
			len(data), MaxBlobBytes)
	}
	if contentType == "" {
		contentType = DefaultBlobContentType
	}
	if err := checkContentType(contentType); err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	ref = blobRefPrefix + digest
	size = int64(len(data))

	end := b.beginWrite()
	defer end()

	if err := b.storeBlobData(digest, data); err != nil {
		return "", 0, err
	}
	if err := b.storeBlobInfo(digest, blobInfo{ContentType: contentType, Size: size}); err != nil {
		return "", 0, err
	}
	return ref, size, nil
}

// storeBlobData writes the blob file unless a file with these bytes is
// already there. The caller holds the write lock.
func (b *Box) storeBlobData(digest string, data []byte) error {
	path := filepath.Join(b.blobDir(), digest)
	existing, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(existing, data):
		return nil
	case err == nil:
		// Files are replaced atomically, so different bytes mean the file
		// was damaged outside capsol. The digest names these bytes, so
		// writing them again restores the blob.
		b.log.Warn("replacing blob whose data does not match its digest", "path", path)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read blob %s: %w", digest, err)
	}

	writeErr := fsutil.WriteFile(path, data)
	newSize := int64(len(data))
	if writeErr != nil {
		// The write can fail before or after the rename, so the count
		// follows what is on disk.
		newSize = 0
		if info, err := os.Stat(path); err == nil {
			newSize = info.Size()
		}
	}
	b.mu.Lock()
	b.blobBytes += newSize - int64(len(existing))
	b.mu.Unlock()
	if writeErr != nil {
		return fmt.Errorf("write blob %s: %w", digest, writeErr)
	}
	return nil
}

// storeBlobInfo writes the blob's content type unless it is already stored.
// It runs after the data is written, so a crash in between leaves a blob
// whose content type reads as DefaultBlobContentType until it is put again.
func (b *Box) storeBlobInfo(digest string, info blobInfo) error {
	path := filepath.Join(b.blobDir(), digest+".json")
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat blob info %s: %w", digest, err)
	}
	data, err := marshalJSON(info)
	if err != nil {
		return fmt.Errorf("encode blob info %s: %w", digest, err)
	}
	if err := fsutil.WriteFile(path, data); err != nil {
		return fmt.Errorf("write blob info %s: %w", digest, err)
	}
	return nil
}

// GetBlob returns the bytes and content type of the blob with ref. It checks
// the bytes against the digest, so damaged data is returned as an error
// wrapping ErrCorrupt, never as content.
func (b *Box) GetBlob(ref string) (data []byte, contentType string, err error) {
	if err := ValidateBlobRef(ref); err != nil {
		return nil, "", err
	}
	digest := ref[len(blobRefPrefix):]
	path := filepath.Join(b.blobDir(), digest)

	data, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", newError(CodeNotFound, "no blob with ref %s; store the data with put_blob first", quote(ref))
	}
	if err != nil {
		return nil, "", fmt.Errorf("read blob %s: %w", digest, err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != digest {
		return nil, "", fmt.Errorf("%w: %s: the data does not match its SHA-256 digest", ErrCorrupt, path)
	}

	contentType, err = b.readBlobContentType(digest)
	if err != nil {
		return nil, "", err
	}
	return data, contentType, nil
}

func (b *Box) readBlobContentType(digest string) (string, error) {
	path := filepath.Join(b.blobDir(), digest+".json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultBlobContentType, nil
	}
	if err != nil {
		return "", fmt.Errorf("read blob info %s: %w", digest, err)
	}
	var info blobInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if info.ContentType == "" {
		return DefaultBlobContentType, nil
	}
	return info.ContentType, nil
}
