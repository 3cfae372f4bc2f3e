package box

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRememberRecallForget(t *testing.T) {
	b := openTestBox(t, Options{})
	require.NoError(t, b.Remember("project/owner", "ada"))
	require.NoError(t, b.Remember("project/repo", "capsol"))
	require.NoError(t, b.Remember("style", "tabs"))
	require.NoError(t, b.Remember("style", "spaces"))

	one, err := b.Recall("style", "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"style": "spaces"}, one)

	project, err := b.Recall("", "project/")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"project/owner": "ada", "project/repo": "capsol"}, project)

	all, err := b.Recall("", "")
	require.NoError(t, err)
	assert.Len(t, all, 3)

	require.NoError(t, b.Forget("style"))
	_, err = b.Recall("style", "")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, b.Forget("style"), ErrNotFound)

	reopened := reopen(t, b)
	all, err = reopened.Recall("", "")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"project/owner": "ada", "project/repo": "capsol"}, all)
}

func TestRecallReturnsCopy(t *testing.T) {
	b := openTestBox(t, Options{})
	require.NoError(t, b.Remember("k", "v"))
	values, err := b.Recall("", "")
	require.NoError(t, err)
	values["k"] = "changed"

	values, err = b.Recall("k", "")
	require.NoError(t, err)
	assert.Equal(t, "v", values["k"])
}

func TestMemoryRejectsBadInput(t *testing.T) {
	cases := []struct {
		name  string
		key   string
		value string
		want  error
	}{
		{"empty key", "", "v", ErrInvalidRequest},
		{"long key", strings.Repeat("k", MaxMemoryKeyBytes+1), "v", ErrInvalidRequest},
		{"control in key", "a\nb", "v", ErrInvalidRequest},
		{"invalid UTF-8 value", "k", "\xff", ErrInvalidRequest},
		{"large value", "k", strings.Repeat("v", MaxMemoryValueBytes+1), ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := openTestBox(t, Options{})
			assert.ErrorIs(t, b.Remember(tc.key, tc.value), tc.want)
			_, err := os.Stat(b.memoryPath())
			assert.True(t, os.IsNotExist(err), "a rejected request wrote memory.json")
		})
	}

	b := openTestBox(t, Options{})
	_, err := b.Recall("k", "p")
	assert.ErrorIs(t, err, ErrInvalidRequest)
	assert.ErrorIs(t, b.Forget(""), ErrInvalidRequest)
}

func TestMemoryTotalSizeLimit(t *testing.T) {
	b := openTestBox(t, Options{})
	value := strings.Repeat("v", MaxMemoryValueBytes)
	var err error
	stored := 0
	for i := 0; err == nil; i++ {
		err = b.Remember(fmt.Sprintf("key-%03d", i), value)
		if err == nil {
			stored++
		}
	}
	assert.ErrorIs(t, err, ErrTooLarge)
	all, recallErr := b.Recall("", "")
	require.NoError(t, recallErr)
	assert.Len(t, all, stored, "the rejected key was kept")

	info, statErr := os.Stat(b.memoryPath())
	require.NoError(t, statErr)
	assert.LessOrEqual(t, info.Size(), int64(MaxMemoryBytes))
}

func TestOpenRejectsCorruptMemory(t *testing.T) {
	b := openTestBox(t, Options{})
	require.NoError(t, os.WriteFile(b.memoryPath(), []byte("{not json"), 0o600))

	_, err := Open(b.Dir(), Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "memory.json")

	data, readErr := os.ReadFile(b.memoryPath())
	require.NoError(t, readErr)
	assert.Equal(t, "{not json", string(data), "a corrupt file must not be rewritten")
}
