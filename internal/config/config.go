// Package config resolves the daemon's settings from flags, environment
// variables, $CAPSOL_HOME/config.yaml and defaults, in that order of
// precedence.
package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/capsol/capsol/internal/bootfail"
)

// Environments.
const (
	Development = "development"
	Production  = "production"
)

// Config is the resolved configuration of one daemon.
type Config struct {
	DataDir       string
	Port          int // 0 means unset: the first free port of 4000–4010
	Listen        string
	PublicURL     string // empty means http://localhost:<port>
	Env           string
	Home          string
	LogFormat     string // "text", "json" or "" (text on a TTY, else json)
	AdminKey      string
	SecretKey     string
	SecretKeyFile string
	ConfigFile    string // the config file that was read, if any
}

// setting is one row of the configuration table.
type setting struct {
	key, flag, env, def, usage string
}

var settings = []setting{
	{"data_dir", "data-dir", "CAPSOL_DATA_DIR", "./registry-data", "directory holding all registry state"},
	{"port", "port", "PORT", "", "TCP port to bind exactly (default: first free of 4000-4010)"},
	{"listen", "listen", "CAPSOL_LISTEN", "127.0.0.1", "bind address (0.0.0.0 in containers)"},
	{"public_url", "public-url", "CAPSOL_PUBLIC_URL", "", "external base URL for OAuth metadata, invite links and MCP URLs (default http://localhost:<port>)"},
	{"env", "env", "CAPSOL_ENV", Development, "development or production (production requires a persistent secret key)"},
	{"home", "home", "CAPSOL_HOME", "", "directory of admin.key and the config file (default ~/.capsol)"},
	{"log_format", "log-format", "CAPSOL_LOG_FORMAT", "", "text or json (default text on a TTY, json otherwise)"},
}

// BindFlags declares the daemon flags on fs.
func BindFlags(fs *pflag.FlagSet) {
	for _, s := range settings {
		fs.String(s.flag, s.def, s.usage)
	}
}

// Load resolves the configuration. fs holds the parsed flags declared by
// BindFlags; getenv reads the environment (os.Getenv outside tests).
func Load(fs *pflag.FlagSet, getenv func(string) string) (Config, error) {
	v := viper.New()
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	for _, s := range settings {
		v.SetDefault(s.key, s.def)
		if f := fs.Lookup(s.flag); f != nil && f.Changed {
			v.Set(s.key, f.Value.String())
		} else if val := getenv(s.env); val != "" {
			v.Set(s.key, val)
		}
	}

	home := v.GetString("home")
	if home == "" {
		userHome, err := os.UserHomeDir()
		if err != nil {
			return Config{}, invalid("home", "", "cannot find the user's home directory ("+err.Error()+")",
				"set CAPSOL_HOME or --home to a directory, e.g. export CAPSOL_HOME=/var/lib/capsol/home")
		}
		home = filepath.Join(userHome, ".capsol")
	}
	home = absolute(home)

	configFile := filepath.Join(home, "config.yaml")
	if _, err := os.Stat(configFile); err == nil {
		v.SetConfigFile(configFile)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, bootfail.New(bootfail.InvalidConfig,
				fmt.Sprintf("cannot parse config file %s: %v", configFile, err),
				fmt.Sprintf("Fix the YAML in %s (keys: data_dir, port, listen, public_url, env, log_format, secret_key_file) or move it aside: mv %s %s.bak", configFile, bootfail.ShellQuote(configFile), bootfail.ShellQuote(configFile)))
		}
	} else {
		configFile = ""
	}

	cfg := Config{
		DataDir:       absolute(v.GetString("data_dir")),
		Listen:        v.GetString("listen"),
		PublicURL:     strings.TrimRight(v.GetString("public_url"), "/"),
		Env:           v.GetString("env"),
		Home:          home,
		LogFormat:     v.GetString("log_format"),
		AdminKey:      getenv("CAPSOL_ADMIN_KEY"),
		SecretKey:     getenv("CAPSOL_SECRET_KEY"),
		SecretKeyFile: getenv("CAPSOL_SECRET_KEY_FILE"),
		ConfigFile:    configFile,
	}
	if cfg.SecretKeyFile == "" {
		cfg.SecretKeyFile = v.GetString("secret_key_file")
	}
	if p := v.GetString("port"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return Config{}, invalid("port", p, "is not a TCP port",
				"set PORT or --port to a number from 1 to 65535, or unset it to use the first free port of 4000-4010")
		}
		cfg.Port = port
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if c.Env != Development && c.Env != Production {
		return invalid("env", c.Env, "is not an environment",
			"set CAPSOL_ENV or --env to development or production")
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return invalid("log_format", c.LogFormat, "is not a log format",
			"set CAPSOL_LOG_FORMAT or --log-format to text or json")
	}
	if net.ParseIP(c.Listen) == nil && c.Listen != "localhost" {
		return invalid("listen", c.Listen, "is not an IP address",
			"set CAPSOL_LISTEN or --listen to an address such as 127.0.0.1, :: or 0.0.0.0")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return invalid("public_url", c.PublicURL, "is not an absolute http(s) URL",
				"set CAPSOL_PUBLIC_URL or --public-url to a base URL such as https://capsol.example.com")
		}
	}
	if c.SecretKey != "" && c.SecretKeyFile != "" {
		return bootfail.New(bootfail.InvalidConfig,
			"both CAPSOL_SECRET_KEY and CAPSOL_SECRET_KEY_FILE are set",
			"Keep one: unset CAPSOL_SECRET_KEY to use the file "+c.SecretKeyFile+", or unset CAPSOL_SECRET_KEY_FILE.")
	}
	return nil
}

// BaseURL returns the external base URL for a bound port.
func (c Config) BaseURL(port int) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return fmt.Sprintf("http://localhost:%d", port)
}

func invalid(key, value, problem, fix string) error {
	msg := fmt.Sprintf("%s %q %s", key, value, problem)
	return bootfail.New(bootfail.InvalidConfig, msg, strings.ToUpper(fix[:1])+fix[1:]+".")
}

func absolute(path string) string {
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, path[2:])
		}
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
