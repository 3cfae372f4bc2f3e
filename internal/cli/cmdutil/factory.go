package cmdutil

import (
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/capsol/capsol/pkg/client"
)

// Names of the root's persistent flags, which are also their viper keys.
const (
	FlagServer  = "server"
	FlagKey     = "key"
	FlagDataDir = "data-dir"
	FlagHome    = "home"
	FlagOutput  = "output"
	FlagNoColor = "no-color"
)

// DefaultDataDir is the data directory when neither --data-dir nor
// CAPSOL_DATA_DIR names one, as for the daemon.
const DefaultDataDir = "./registry-data"

// RequestTimeout bounds one API request of a command.
const RequestTimeout = 30 * time.Second

// globalEnv maps the global flags to their environment variables.
var globalEnv = map[string]string{
	FlagServer:  "CAPSOL_URL",
	FlagKey:     "CAPSOL_ADMIN_KEY",
	FlagDataDir: "CAPSOL_DATA_DIR",
	FlagHome:    "CAPSOL_HOME",
}

// Factory gives the commands of each noun what they share: the global
// flags resolved from the command line, the environment and the defaults,
// the standard streams, and an API client. Each invocation of the root
// command has its own Factory with its own viper instance, so commands
// run in one process (as tests do) never see each other's flags.
type Factory struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// HTTPClient sends the API requests. Nil means a client whose
	// requests time out after RequestTimeout.
	HTTPClient *http.Client

	viper *viper.Viper
}

// NewFactory returns the Factory of one invocation of the root command.
func NewFactory(stdin io.Reader, stdout, stderr io.Writer) *Factory {
	return &Factory{Stdin: stdin, Stdout: stdout, Stderr: stderr, viper: viper.New()}
}

// BindGlobalFlags declares the persistent flags on root and binds them and
// their environment variables to the Factory's viper instance, so that a
// flag set on the command line wins over the environment, which wins over
// the defaults.
func (f *Factory) BindGlobalFlags(root *cobra.Command) {
	flags := root.PersistentFlags()
	flags.String(FlagServer, "", "daemon URL (env CAPSOL_URL; default: the URL in the lock file of --data-dir, else "+DefaultServer+")")
	flags.String(FlagKey, "", "admin key (env CAPSOL_ADMIN_KEY; default: the content of $CAPSOL_HOME/admin.key)")
	flags.String(FlagDataDir, "", "data directory (env CAPSOL_DATA_DIR; default "+DefaultDataDir+")")
	flags.String(FlagHome, "", "directory of admin.key (env CAPSOL_HOME; default ~/.capsol)")
	flags.StringP(FlagOutput, "o", "", "output format: table or json (default table on a terminal, json otherwise)")
	flags.Bool(FlagNoColor, false, "print without colour (also when the NO_COLOR environment variable is set)")

	for _, name := range []string{FlagServer, FlagKey, FlagDataDir, FlagHome, FlagOutput, FlagNoColor} {
		// BindPFlag fails only for a nil flag, and each was declared above.
		_ = f.viper.BindPFlag(name, flags.Lookup(name))
		if env, ok := globalEnv[name]; ok {
			_ = f.viper.BindEnv(name, env)
		}
	}
}

func (f *Factory) value(name string) string {
	return strings.TrimSpace(f.viper.GetString(name))
}

// DataDir returns the absolute data directory.
func (f *Factory) DataDir() string {
	dir := f.value(FlagDataDir)
	if dir == "" {
		dir = DefaultDataDir
	}
	return AbsPath(dir)
}

// Home returns the absolute CAPSOL_HOME.
func (f *Factory) Home() string {
	home := f.value(FlagHome)
	if home == "" {
		return DefaultHome()
	}
	return AbsPath(home)
}

// ServerURL returns the daemon URL from --server or CAPSOL_URL, else the
// lock file of a running daemon on DataDir, else DefaultServer.
func (f *Factory) ServerURL() string {
	if url := f.value(FlagServer); url != "" {
		return strings.TrimRight(url, "/")
	}
	// CAPSOL_URL was read above through viper, so only the lock file and
	// the default are left.
	return ServerURL(&cobra.Command{}, "", f.DataDir())
}

// AdminKey returns the admin key from --key, CAPSOL_ADMIN_KEY or
// $CAPSOL_HOME/admin.key, in that order. A missing key is an ExitAuth
// error that names the three sources.
func (f *Factory) AdminKey() (string, error) {
	if key := f.value(FlagKey); key != "" {
		return key, nil
	}
	// CAPSOL_ADMIN_KEY was read above through viper, so only the key file
	// is left.
	return AdminKey(&cobra.Command{}, "", f.Home())
}

// Format returns the output format: --output when set, else table when
// stdout is a terminal and json otherwise.
func (f *Factory) Format() (string, error) {
	return OutputFormat(f.value(FlagOutput), f.Stdout)
}

// Color reports whether output may be styled: stdout is a terminal, and
// neither --no-color nor a non-empty NO_COLOR turns colour off.
func (f *Factory) Color() bool {
	return IsTerminal(f.Stdout) && !f.viper.GetBool(FlagNoColor) && os.Getenv("NO_COLOR") == ""
}

// CanPrompt reports whether the command can ask a question: stdin and
// stderr are both terminals.
func (f *Factory) CanPrompt() bool {
	stdin, ok := f.Stdin.(*os.File)
	return ok && IsTerminal(stdin) && IsTerminal(f.Stderr)
}

// Client returns an API client for ServerURL authenticated with AdminKey.
func (f *Factory) Client() (*client.Client, error) {
	key, err := f.AdminKey()
	if err != nil {
		return nil, err
	}
	return client.New(f.ServerURL(), key, f.httpClient()), nil
}

// AnonymousClient returns an API client for ServerURL without an admin
// key, for the endpoints that need none.
func (f *Factory) AnonymousClient() *client.Client {
	return client.New(f.ServerURL(), "", f.httpClient())
}

func (f *Factory) httpClient() *http.Client {
	if f.HTTPClient != nil {
		return f.HTTPClient
	}
	return &http.Client{Timeout: RequestTimeout}
}

// Printer returns the Printer of the command's stdout. A wrong --output
// is a usage error.
func (f *Factory) Printer() (Printer, error) {
	format, err := f.Format()
	if err != nil {
		return Printer{}, err
	}
	return Printer{Out: f.Stdout, Format: format, Color: f.Color()}, nil
}
