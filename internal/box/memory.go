package box

import (
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"github.com/capsol/capsol/internal/fsutil"
)

// Memory limits. The memory is rewritten whole on every change, so it is
// kept small.
const (
	MaxMemoryKeyBytes   = 256
	MaxMemoryValueBytes = 64 << 10
	MaxMemoryBytes      = 4 << 20 // size of memory.json
)

// Remember stores value under key in the box's key–value memory, replacing
// any value that key had.
func (b *Box) Remember(key, value string) error {
	if err := checkMemoryKey(key); err != nil {
		return err
	}
	if len(value) > MaxMemoryValueBytes {
		return newError(CodeTooLarge, "the value for key %s is %d bytes, over the maximum of %d (64 KiB); store large text as an entry",
			quote(key), len(value), MaxMemoryValueBytes)
	}
	if !utf8.ValidString(value) {
		return newError(CodeInvalidRequest, "the value for key %s is not valid UTF-8; store binary data with put_blob",
			quote(key))
	}

	end := b.beginWrite()
	defer end()

	memory := maps.Clone(b.memory)
	memory[key] = value
	return b.storeMemory(memory)
}

// Recall returns the memory's values by key. With key set it returns that
// one key or a not_found error. With prefix set it returns the keys that
// start with prefix, and with neither it returns the whole memory. Setting
// both is an invalid_request.
func (b *Box) Recall(key, prefix string) (map[string]string, error) {
	if key != "" && prefix != "" {
		return nil, newError(CodeInvalidRequest, "both key %s and prefix %s were given; pass one of them, or neither for all keys",
			quote(key), quote(prefix))
	}

	b.mu.RLock()
	defer b.mu.RUnlock()

	if key != "" {
		value, ok := b.memory[key]
		if !ok {
			return nil, newError(CodeNotFound, "no memory key %s; recall without a key lists the keys that exist", quote(key))
		}
		return map[string]string{key: value}, nil
	}
	values := make(map[string]string)
	for k, v := range b.memory {
		if strings.HasPrefix(k, prefix) {
			values[k] = v
		}
	}
	return values, nil
}

// Forget deletes key from the memory, or returns a not_found error when the
// memory has no such key.
func (b *Box) Forget(key string) error {
	if err := checkMemoryKey(key); err != nil {
		return err
	}

	end := b.beginWrite()
	defer end()

	if _, ok := b.memory[key]; !ok {
		return newError(CodeNotFound, "no memory key %s; recall without a key lists the keys that exist", quote(key))
	}
	memory := maps.Clone(b.memory)
	delete(memory, key)
	return b.storeMemory(memory)
}

// storeMemory writes memory to memory.json and then makes it the box's
// memory. The caller holds the write lock.
func (b *Box) storeMemory(memory map[string]string) error {
	// encoding/json writes map keys in sorted order, so the file is
	// stable and diffs well.
	data, err := marshalJSON(memory)
	if err != nil {
		return fmt.Errorf("encode memory: %w", err)
	}
	if len(data) > MaxMemoryBytes {
		return newError(CodeTooLarge, "the memory would be %d bytes, over the maximum of %d (4 MiB); forget keys you no longer need",
			len(data), MaxMemoryBytes)
	}
	if err := fsutil.WriteFile(b.memoryPath(), data); err != nil {
		// The write can fail after the rename, with the new file in
		// place, so the memory is read back from the file.
		if loadErr := b.loadMemory(); loadErr != nil {
			b.log.Error("memory may differ from memory.json after a failed write", "error", loadErr)
		}
		return fmt.Errorf("write memory: %w", err)
	}

	b.mu.Lock()
	b.memory = memory
	b.mu.Unlock()
	return nil
}

func checkMemoryKey(key string) error {
	if key == "" {
		return newError(CodeInvalidRequest, "the memory key is empty; pass a key such as \"project/owner\"")
	}
	if reason := checkText(key, MaxMemoryKeyBytes); reason != "" {
		return newError(CodeInvalidRequest, "the memory key %s %s", quote(key), reason)
	}
	return nil
}
