package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capsol/capsol/internal/cli/cmdutil"
	"github.com/capsol/capsol/internal/fsutil"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/store"
)

// newSecretKeyBytes is the size of a generated secret key before base64,
// as openssl rand -base64 48 makes it.
const newSecretKeyBytes = 48

// Names of the encrypted settings, as GET /v1/settings and capsol settings
// set --clear call them.
const (
	settingOIDCClientSecret = "oidc.client_secret"
	settingSMTPURL          = "smtp_url"
)

// RotateSecretOptions are the inputs of capsol keys rotate-secret.
type RotateSecretOptions struct {
	DataDir string
	// KeyFile receives the new key; empty with Print, which prints it.
	KeyFile string
	Print   bool
	// OldKey decrypts the settings before the rotation; nil when it is
	// not available, which clears them. OldKeySource names where it came
	// from, for the output.
	OldKey       []byte
	OldKeySource string
	// EnvKeySet is true when CAPSOL_SECRET_KEY is set in this environment,
	// which the daemon must not have together with CAPSOL_SECRET_KEY_FILE.
	EnvKeySet bool

	Printer cmdutil.Printer
	Stderr  io.Writer
}

// RotateSecretResult is the JSON output of capsol keys rotate-secret. Its
// fields are stable.
type RotateSecretResult struct {
	DataDir string `json:"data_dir"`
	// KeyFile is the file that holds the new key, empty with --print.
	KeyFile string `json:"key_file,omitempty"`
	// Key is the new key, only with --print.
	Key string `json:"key,omitempty"`
	// OldKeySource names the source of the old key, empty when none was
	// available.
	OldKeySource string `json:"old_key_source"`
	// Reencrypted and Cleared name the settings that the new key now
	// encrypts and those that had to be removed; Cleared must be
	// entered again.
	Reencrypted []string `json:"reencrypted"`
	Cleared     []string `json:"cleared"`
	NextSteps   []string `json:"next_steps"`
}

// NewCmdRotateSecret returns the capsol keys rotate-secret command.
func NewCmdRotateSecret(f *cmdutil.Factory) *cobra.Command {
	opts := &RotateSecretOptions{}
	var oldKeyFile string
	cmd := &cobra.Command{
		Use:   "rotate-secret (--key-file FILE | --print) [--old-key-file FILE]",
		Short: "Generate a new secret key and re-encrypt the OIDC client secret and SMTP URL",
		Long: `Generate a new secret key (48 random bytes in base64, as openssl rand
-base64 48 makes) and re-encrypt the two secrets of settings.json, the
OIDC client secret and the SMTP URL, from the old key to the new one.

The command works on --data-dir offline: it refuses while a daemon holds
the data directory's lock, and holds the lock itself while it works. Stop
the daemon first and start it with the new key afterwards.

The old key is read from --old-key-file, else CAPSOL_SECRET_KEY, else the
current content of the key file. When no old key is available (such as a
development daemon with an ephemeral key) or a value does not decrypt with
it, that value is cleared, and the command says what to re-enter with
capsol settings set or dashboard → Settings.

The new key goes to --key-file (default CAPSOL_SECRET_KEY_FILE), written
atomically with mode 0600, or with --print to standard output only. A key
file is first written beside its target as FILE.new and renamed over it
after settings.json, so after a crash FILE.new holds the key that
settings.json needs.

Backups taken before the rotation hold settings encrypted with the old
key: after restoring one, re-enter the two values.

Output: what changed and the next steps on a terminal, otherwise (or with
-o json) {"data_dir", "key_file", "key" (only with --print),
"old_key_source", "reencrypted", "cleared", "next_steps"}.

Exit status: 0 rotated, 1 failed (a running daemon, an unwritable file),
2 usage error.`,
		Example: `  # systemd with CAPSOL_SECRET_KEY_FILE=/etc/capsol/secret.key
  sudo systemctl stop capsol
  sudo CAPSOL_SECRET_KEY_FILE=/etc/capsol/secret.key capsol keys rotate-secret --data-dir /var/lib/capsol/registry-data
  sudo systemctl start capsol

  # The daemon reads CAPSOL_SECRET_KEY: print the new key instead
  CAPSOL_SECRET_KEY=$OLD capsol keys rotate-secret --print -o json | jq -r .key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Print && cmd.Flags().Changed("key-file") {
				return cmdutil.UsageError("give --key-file or --print, not both")
			}
			currentFile := cmdutil.Resolve(cmd, "key-file", opts.KeyFile, "CAPSOL_SECRET_KEY_FILE", "")
			if currentFile != "" {
				currentFile = cmdutil.AbsPath(currentFile)
			}
			opts.KeyFile = ""
			if !opts.Print {
				if currentFile == "" {
					return cmdutil.UsageError("say where the new key goes: --key-file FILE (or CAPSOL_SECRET_KEY_FILE), or --print to print it")
				}
				opts.KeyFile = currentFile
			}
			opts.EnvKeySet = os.Getenv("CAPSOL_SECRET_KEY") != ""
			if err := loadOldKey(opts, oldKeyFile, currentFile, f.Stderr); err != nil {
				return err
			}
			var err error
			if opts.Printer, err = f.Printer(); err != nil {
				return err
			}
			opts.DataDir, opts.Stderr = f.DataDir(), f.Stderr
			return RunRotateSecret(opts)
		},
	}
	cmd.Flags().StringVar(&opts.KeyFile, "key-file", "", "file to write the new key to (env CAPSOL_SECRET_KEY_FILE)")
	cmd.Flags().BoolVar(&opts.Print, "print", false, "print the new key instead of writing it, for a daemon that reads CAPSOL_SECRET_KEY")
	cmd.Flags().StringVar(&oldKeyFile, "old-key-file", "", "file holding the current secret key (default: CAPSOL_SECRET_KEY, else the key file)")
	return cmd
}

// loadOldKey sets the old key of opts from oldKeyFile, CAPSOL_SECRET_KEY
// or currentFile, the key file in use, in that order. A named file that
// cannot be read is an error; a key file that does not exist yet means
// there is no old key.
func loadOldKey(opts *RotateSecretOptions, oldKeyFile, currentFile string, stderr io.Writer) error {
	var value, source string
	switch {
	case oldKeyFile != "":
		data, err := os.ReadFile(oldKeyFile)
		if err != nil {
			return cmdutil.UsageError("--old-key-file: %v", err)
		}
		value, source = string(bytes.TrimSpace(data)), cmdutil.AbsPath(oldKeyFile)
	case opts.EnvKeySet:
		value, source = os.Getenv("CAPSOL_SECRET_KEY"), "CAPSOL_SECRET_KEY"
	case currentFile != "":
		data, err := os.ReadFile(currentFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the current secret key: %w", err)
		}
		value, source = string(bytes.TrimSpace(data)), currentFile
	default:
		return nil
	}
	if len(value) < keys.MinSecretKeyBytes {
		fmt.Fprintf(stderr, "warning: the old secret key from %s is %s, under the %d the daemon accepts, so it is not used; the encrypted settings are cleared\n",
			source, cmdutil.Pluralize(len(value), "byte", "bytes"), keys.MinSecretKeyBytes)
		return nil
	}
	opts.OldKey, opts.OldKeySource = []byte(value), source
	return nil
}

// RunRotateSecret rotates the secret key of opts.DataDir and prints the
// result.
func RunRotateSecret(opts *RotateSecretOptions) error {
	if _, err := os.Stat(filepath.Join(opts.DataDir, store.MetaFile)); err != nil {
		return fmt.Errorf("%s is not a capsol data directory (%v); pass --data-dir or set CAPSOL_DATA_DIR", opts.DataDir, err)
	}
	lock, err := store.AcquireLock(opts.DataDir)
	if err != nil {
		var locked *store.LockedError
		if errors.As(err, &locked) {
			return fmt.Errorf("a daemon is running on %s (%v); stop it first (systemctl stop capsol), run this again, then start it with the new key", opts.DataDir, err)
		}
		return err
	}
	defer lock.Release()

	settingsPath := filepath.Join(opts.DataDir, store.SettingsFile)
	settings, err := readSettings(settingsPath)
	if err != nil {
		return err
	}

	newKey, err := generateSecretKey()
	if err != nil {
		return err
	}
	res := &RotateSecretResult{DataDir: opts.DataDir, OldKeySource: opts.OldKeySource, Reencrypted: []string{}, Cleared: []string{}, NextSteps: []string{}}
	changed, err := reencrypt(settings, opts.OldKey, []byte(newKey), res)
	if err != nil {
		return err
	}

	// The new key is on disk before settings.json needs it, and the old
	// key stays in place until settings.json no longer does.
	pendingKey := ""
	if opts.KeyFile != "" {
		pendingKey = opts.KeyFile + ".new"
		if err := fsutil.MkdirAll(filepath.Dir(opts.KeyFile)); err != nil {
			return fmt.Errorf("create the directory of %s: %w", opts.KeyFile, err)
		}
		if err := fsutil.WriteFile(pendingKey, []byte(newKey+"\n")); err != nil {
			return fmt.Errorf("write the new secret key: %w", err)
		}
	}
	if changed {
		if err := writeSettings(settingsPath, settings); err != nil {
			return err
		}
	}
	if pendingKey != "" {
		if err := os.Rename(pendingKey, opts.KeyFile); err != nil {
			return fmt.Errorf("settings.json now needs the new key in %s, but renaming it to %s failed: %w; rename it by hand", pendingKey, opts.KeyFile, err)
		}
		if err := fsutil.SyncDir(filepath.Dir(opts.KeyFile)); err != nil {
			return err
		}
		res.KeyFile = opts.KeyFile
	} else {
		res.Key = newKey
	}

	res.NextSteps = nextSecretSteps(opts, res)
	return printRotateSecret(opts.Printer, res)
}

// reencrypt moves the encrypted settings from oldKey to newKey and records
// what happened in res. A value that oldKey cannot decrypt, or any value
// without oldKey, is cleared. It reports whether settings changed.
func reencrypt(settings *store.Settings, oldKey, newKey []byte, res *RotateSecretResult) (bool, error) {
	var oldCipher *registry.SettingsCipher
	if oldKey != nil {
		var err error
		if oldCipher, err = registry.NewSettingsCipher(oldKey); err != nil {
			return false, fmt.Errorf("prepare the old secret key: %w", err)
		}
	}
	newCipher, err := registry.NewSettingsCipher(newKey)
	if err != nil {
		return false, fmt.Errorf("prepare the new secret key: %w", err)
	}

	changed := false
	fields := []struct {
		name  string
		value **string
	}{
		{settingOIDCClientSecret, &settings.OIDC.ClientSecret},
		{settingSMTPURL, &settings.SMTPURL},
	}
	for _, field := range fields {
		if *field.value == nil {
			continue
		}
		changed = true
		if oldCipher != nil {
			if plain, err := oldCipher.Decrypt(**field.value); err == nil {
				stored, err := newCipher.Encrypt(plain)
				if err != nil {
					return false, fmt.Errorf("encrypt %s: %w", field.name, err)
				}
				*field.value = &stored
				res.Reencrypted = append(res.Reencrypted, field.name)
				continue
			}
		}
		*field.value = nil
		res.Cleared = append(res.Cleared, field.name)
	}
	return changed, nil
}

func generateSecretKey() (string, error) {
	raw := make([]byte, newSecretKeyBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate a secret key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// readSettings reads settings.json; a missing file is empty settings, as
// the daemon treats it.
func readSettings(path string) (*store.Settings, error) {
	settings := &store.Settings{}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return settings, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(settings); err != nil {
		return nil, fmt.Errorf("%s is not valid settings (%v); restore it from a backup, or run capsol doctor", path, err)
	}
	return settings, nil
}

// writeSettings replaces settings.json in the format of the store: indented
// JSON without HTML escapes and with a final newline, mode 0600.
func writeSettings(path string, settings *store.Settings) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(settings); err != nil {
		return fmt.Errorf("encode settings: %w", err)
	}
	if err := fsutil.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	return nil
}

func nextSecretSteps(opts *RotateSecretOptions, res *RotateSecretResult) []string {
	var steps []string
	if res.KeyFile != "" {
		step := "Start the daemon with CAPSOL_SECRET_KEY_FILE=" + res.KeyFile + " (systemctl start capsol)."
		if opts.EnvKeySet {
			step = "Unset CAPSOL_SECRET_KEY where the daemon runs, because it refuses both variables at once, then start it with CAPSOL_SECRET_KEY_FILE=" + res.KeyFile + "."
		}
		steps = append(steps, step)
	} else {
		steps = append(steps, "Set CAPSOL_SECRET_KEY to the new key where the daemon runs (its EnvironmentFile or container secret), then start it.")
	}
	for _, name := range res.Cleared {
		switch name {
		case settingOIDCClientSecret:
			steps = append(steps, "Re-enter the OIDC client secret from your identity provider: capsol settings set --oidc-client-secret - (or dashboard → Settings).")
		case settingSMTPURL:
			steps = append(steps, "Re-enter the SMTP URL from your mail provider: capsol settings set --smtp-url - (or dashboard → Settings).")
		}
	}
	steps = append(steps, "Store the new key apart from the backups; the old key no longer decrypts anything new.")
	return steps
}

func printRotateSecret(p cmdutil.Printer, res *RotateSecretResult) error {
	if p.JSON() {
		return p.PrintJSON(res)
	}
	if res.Key != "" {
		p.Println("New secret key, shown only this once:")
		p.Printf("  %s\n", p.Bold(res.Key))
	} else {
		p.Printf("Wrote a new secret key to %s (mode 0600).\n", res.KeyFile)
	}
	switch {
	case len(res.Reencrypted) == 0 && len(res.Cleared) == 0:
		p.Println("settings.json holds no encrypted values, so nothing was re-encrypted.")
	default:
		if len(res.Reencrypted) > 0 {
			p.Printf("Re-encrypted with the new key: %s (old key from %s).\n", strings.Join(res.Reencrypted, ", "), res.OldKeySource)
		}
		if len(res.Cleared) > 0 {
			p.Printf("Cleared, because no old key could decrypt them: %s.\n", strings.Join(res.Cleared, ", "))
		}
	}
	p.Println("\nNext steps:")
	for i, step := range res.NextSteps {
		p.Printf("  %d. %s\n", i+1, step)
	}
	return nil
}
