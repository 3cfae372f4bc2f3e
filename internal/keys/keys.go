// Package keys loads the admin key and the secret key of the daemon. The
// admin key is kept only as its SHA-256, and neither key is ever logged.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/secret"
)

// MinAdminKeyBytes is the shortest operator-chosen admin key accepted.
const MinAdminKeyBytes = 16

// MinSecretKeyBytes is the shortest secret key material accepted.
const MinSecretKeyBytes = 32

// AdminKeyFile is the name of the generated admin key inside CAPSOL_HOME.
const AdminKeyFile = "admin.key"

// AdminKey is the current admin key, reloadable from its source.
type AdminKey struct {
	fromEnv string // CAPSOL_ADMIN_KEY at startup; empty when the file is used
	path    string

	mu   sync.RWMutex
	hash [sha256.Size]byte
}

// LoadAdminKey reads the admin key from envValue when it is set, otherwise
// from home/admin.key, generating that file when it is missing. generated
// is true when a new key file was written.
func LoadAdminKey(envValue, home string) (key *AdminKey, generated bool, err error) {
	key = &AdminKey{fromEnv: envValue, path: filepath.Join(home, AdminKeyFile)}
	if envValue == "" {
		if _, statErr := os.Stat(key.path); errors.Is(statErr, os.ErrNotExist) {
			if err := fsutil.WriteFile(key.path, []byte(secret.NewToken(secret.PrefixAdmin)+"\n")); err != nil {
				return nil, false, bootfail.New(bootfail.HomeNotWritable,
					fmt.Sprintf("cannot write %s: %v", key.path, err),
					fmt.Sprintf("mkdir -p %s && chmod 700 %s", bootfail.ShellQuote(home), bootfail.ShellQuote(home)))
			}
			generated = true
		}
	}
	if err := key.Reload(); err != nil {
		return nil, false, err
	}
	return key, generated, nil
}

// Source describes where the key comes from, for logs: never the key.
func (k *AdminKey) Source() string {
	if k.fromEnv != "" {
		return "CAPSOL_ADMIN_KEY"
	}
	return k.path
}

// Path returns the key file, or "" when the key comes from the environment.
func (k *AdminKey) Path() string {
	if k.fromEnv != "" {
		return ""
	}
	return k.path
}

// Reload reads the key again from its source. The environment of a running
// process cannot change, so an environment key reloads to the same value.
func (k *AdminKey) Reload() error {
	value := k.fromEnv
	if value == "" {
		data, err := os.ReadFile(k.path)
		if err != nil {
			return bootfail.New(bootfail.HomeNotWritable,
				fmt.Sprintf("cannot read admin key %s: %v", k.path, err),
				fmt.Sprintf("Make the file readable (chmod 600 %s) or delete it so that capsold generates a new one.", bootfail.ShellQuote(k.path)))
		}
		value = strings.TrimSpace(string(data))
	}
	if len(value) < MinAdminKeyBytes {
		fix := "export CAPSOL_ADMIN_KEY=$(openssl rand -hex 24)"
		where := "CAPSOL_ADMIN_KEY"
		if k.fromEnv == "" {
			where = k.path
			quoted := bootfail.ShellQuote(k.path)
			fix = fmt.Sprintf("openssl rand -hex 24 > %s && chmod 600 %s (or delete the file so that capsold generates a key)", quoted, quoted)
		}
		return bootfail.New(bootfail.AdminKeyTooShort,
			fmt.Sprintf("admin key in %s is %d bytes, at least %d are required", where, len(value), MinAdminKeyBytes),
			"Use a longer key: "+fix)
	}

	k.mu.Lock()
	k.hash = sha256.Sum256([]byte(value))
	k.mu.Unlock()
	return nil
}

// Verify reports whether candidate is the admin key, in constant time.
func (k *AdminKey) Verify(candidate string) bool {
	sum := sha256.Sum256([]byte(candidate))
	k.mu.RLock()
	defer k.mu.RUnlock()
	return subtle.ConstantTimeCompare(sum[:], k.hash[:]) == 1
}

// SessionValue returns the lowercase hex SHA-256 of the admin key: the
// dashboard cookie of a break-glass session, so rotating the key ends it.
func (k *AdminKey) SessionValue() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return hex.EncodeToString(k.hash[:])
}

// SecretKey is the key material that encrypts settings.
type SecretKey struct {
	Material  []byte
	Ephemeral bool
	Source    string
}

// LoadSecretKey reads the secret key from value or from the file at path.
// Without either, production is refused and development gets an ephemeral
// random key.
func LoadSecretKey(value, path string, production bool) (*SecretKey, error) {
	source := "CAPSOL_SECRET_KEY"
	if value == "" && path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, bootfail.New(bootfail.SecretKeyUnreadable,
				fmt.Sprintf("cannot read CAPSOL_SECRET_KEY_FILE %s: %v", path, err),
				fmt.Sprintf("Create the file with a new key: openssl rand -base64 48 > %s && chmod 600 %s, or point CAPSOL_SECRET_KEY_FILE at the existing key file.", bootfail.ShellQuote(path), bootfail.ShellQuote(path)))
		}
		value = strings.TrimSpace(string(data))
		source = path
	}
	if value == "" {
		if production {
			return nil, bootfail.New(bootfail.SecretKeyRequired,
				"CAPSOL_SECRET_KEY required in production",
				"Set a persistent key: openssl rand -base64 48, then export CAPSOL_SECRET_KEY or point CAPSOL_SECRET_KEY_FILE at it.")
		}
		material := make([]byte, MinSecretKeyBytes)
		if _, err := rand.Read(material); err != nil {
			return nil, fmt.Errorf("generate ephemeral secret key: %w", err)
		}
		return &SecretKey{Material: material, Ephemeral: true, Source: "ephemeral"}, nil
	}
	if len(value) < MinSecretKeyBytes {
		return nil, bootfail.New(bootfail.SecretKeyUnreadable,
			fmt.Sprintf("secret key from %s is %d bytes, at least %d are required", source, len(value), MinSecretKeyBytes),
			"Generate a longer key: openssl rand -base64 48, then export CAPSOL_SECRET_KEY or write it to the file CAPSOL_SECRET_KEY_FILE names.")
	}
	return &SecretKey{Material: []byte(value), Source: source}, nil
}
