// Package daemon boots capsold in the documented order, serves HTTP until
// its context ends and then shuts down gracefully. Every boot failure is a
// *bootfail.Error with a remediation an operator can run as written.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/capsol/capsol/internal/api"
	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/config"
	"github.com/capsol/capsol/internal/dashboard"
	"github.com/capsol/capsol/internal/janitor"
	"github.com/capsol/capsol/internal/keys"
	"github.com/capsol/capsol/internal/mcpserver"
	"github.com/capsol/capsol/internal/metrics"
	"github.com/capsol/capsol/internal/oauth"
	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/signin"
	"github.com/capsol/capsol/internal/store"
	"github.com/capsol/capsol/internal/version"
)

// Port range tried when no port is configured.
const (
	FirstPort = 4000
	LastPort  = 4010
)

// ShutdownTimeout bounds how long in-flight requests may take to finish
// after SIGTERM.
const ShutdownTimeout = 30 * time.Second

// Daemon is a booted registry.
type Daemon struct {
	Config    config.Config
	Logger    *slog.Logger
	Store     *store.Store
	AdminKey  *keys.AdminKey
	SecretKey *keys.SecretKey
	Metrics   *metrics.Metrics
	Registry  *registry.Registry
	Server    *api.Server
	SignIn    *signin.Service
	Dashboard *dashboard.Dashboard

	// URL is the local address this process listens on, for local
	// clients. BaseURL is the external base URL.
	URL     string
	BaseURL string
	Port    int

	lock     *store.Lock
	janitor  *janitor.Janitor
	http     *http.Server
	serveErr chan error
}

// Boot runs every boot step and starts serving. On failure it releases what
// it took and returns a *bootfail.Error.
func Boot(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *Daemon, err error) {
	// d is not the named result: "return nil, err" must not clear it before
	// the deferred release of the lock runs.
	d := &Daemon{Config: cfg, Logger: logger, Metrics: metrics.New()}
	logger.Info("configuration resolved", "data_dir", cfg.DataDir, "home", cfg.Home, "env", cfg.Env,
		"listen", cfg.Listen, "port", portSetting(cfg.Port), "config_file", cfg.ConfigFile)

	if err := ensureWritableDir(cfg.Home, bootfail.HomeNotWritable, "CAPSOL_HOME"); err != nil {
		return nil, err
	}
	if err := ensureWritableDir(cfg.DataDir, bootfail.DataDirNotWritable, "CAPSOL_DATA_DIR"); err != nil {
		return nil, err
	}
	logger.Info("directories writable", "home", cfg.Home, "data_dir", cfg.DataDir)

	d.lock, err = store.AcquireLock(cfg.DataDir)
	if err != nil {
		return nil, lockFailure(cfg.DataDir, err)
	}
	defer func() {
		if err != nil {
			d.releaseLock()
		}
	}()
	logger.Info("data directory locked", "lock_file", filepath.Join(cfg.DataDir, store.LockFile), "pid", d.lock.Info().PID)

	if err := d.loadKeys(); err != nil {
		return nil, err
	}
	if err := d.openStore(); err != nil {
		return nil, err
	}
	if err := d.prepareSignIn(); err != nil {
		return nil, err
	}

	d.janitor = &janitor.Janitor{
		Tasks: d.janitorTasks(), Interval: time.Hour, Now: d.Registry.Now, Logger: logger, Metrics: d.Metrics,
	}
	d.janitor.Start(context.WithoutCancel(ctx))
	logger.Info("janitor started", "interval", d.janitor.Interval.String())

	listener, err := d.bind()
	if err != nil {
		d.janitor.Stop()
		return nil, err
	}
	d.Registry.StartUsageFlusher(registry.UsagePollInterval)
	d.serve(listener)
	return d, nil
}

func portSetting(port int) string {
	if port == 0 {
		return fmt.Sprintf("first free of %d-%d", FirstPort, LastPort)
	}
	return strconv.Itoa(port)
}

func (d *Daemon) loadKeys() error {
	adminKey, generated, err := keys.LoadAdminKey(d.Config.AdminKey, d.Config.Home)
	if err != nil {
		return err
	}
	d.AdminKey = adminKey
	if generated {
		d.Logger.Info("admin key generated", "path", adminKey.Path(), "mode", "0600")
	}

	secretKey, err := keys.LoadSecretKey(d.Config.SecretKey, d.Config.SecretKeyFile, d.Config.Env == config.Production)
	if err != nil {
		return err
	}
	d.SecretKey = secretKey
	if secretKey.Ephemeral {
		d.Logger.Warn("no secret key set: using an ephemeral one, so encrypted settings (OIDC client secret, SMTP URL) will not survive a restart; set CAPSOL_SECRET_KEY or CAPSOL_SECRET_KEY_FILE")
	}
	d.Logger.Info("keys loaded", "admin_key_source", adminKey.Source(), "secret_key_source", secretKey.Source)
	return nil
}

func (d *Daemon) openStore() error {
	dir := d.Config.DataDir
	removed, err := store.RemoveStaleTemps(dir)
	if err != nil {
		return bootfail.New(bootfail.DataDirNotWritable, fmt.Sprintf("cannot clean temporary files in %s: %v", dir, err),
			fmt.Sprintf("mkdir -p %s && chmod 700 %s", bootfail.ShellQuote(dir), bootfail.ShellQuote(dir)))
	}
	if len(removed) > 0 {
		d.Logger.Info("removed temporary files of interrupted writes", "files", removed)
	}

	fresh, meta, err := store.Check(dir)
	if err != nil {
		return storeFailure(dir, err)
	}
	if fresh {
		if err := store.Initialize(dir); err != nil {
			return storeFailure(dir, err)
		}
		d.Logger.Info("data directory initialized", "schema", version.Schema)
	} else {
		d.Logger.Info("index files valid", "schema", meta.Schema, "layout_version", meta.Version)
	}

	applied, err := store.Migrate(dir)
	if err != nil {
		return storeFailure(dir, err)
	}
	if applied == nil {
		applied = []int{}
	}
	d.Logger.Info("migrations done", "applied", applied, "schema", version.Schema)

	st, err := store.Open(dir, store.Options{ObserveWrite: d.Metrics.ObserveWrite})
	if err != nil {
		return storeFailure(dir, err)
	}
	d.Store = st
	// The base URL is known once the port is bound; see serve.
	d.Registry = registry.New(st, d.Logger, d.Metrics, "")
	return nil
}

// prepareSignIn builds the settings cipher, the operator sign-in and the
// dashboard, and reports once each encrypted setting that the secret key
// no longer decrypts.
func (d *Daemon) prepareSignIn() error {
	cipher, err := registry.NewSettingsCipher(d.SecretKey.Material)
	if err != nil {
		return fmt.Errorf("settings cipher: %w", err)
	}
	for _, name := range d.Registry.UnreadableSettings(cipher) {
		d.Logger.Warn("encrypted setting cannot be decrypted with the current secret key; re-enter it in dashboard → Settings",
			"setting", name, "secret_key_source", d.SecretKey.Source)
	}
	d.SignIn = signin.New(d.Registry, d.AdminKey, cipher, d.SecretKey.Material, d.Logger)
	d.Dashboard, err = dashboard.New(d.Registry, d.SignIn, d.Logger)
	if err != nil {
		return fmt.Errorf("dashboard templates: %w", err)
	}
	return nil
}

func (d *Daemon) bind() (net.Listener, error) {
	listen := d.Config.Listen
	if d.Config.Port != 0 {
		addr := net.JoinHostPort(listen, strconv.Itoa(d.Config.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, bootfail.New(bootfail.PortInUse,
				fmt.Sprintf("cannot listen on %s: %v", addr, err),
				fmt.Sprintf("Free port %d (ss -ltnp 'sport = :%d' shows who holds it) or choose another: PORT=%d capsol serve, or unset PORT to use the first free port of %d-%d.",
					d.Config.Port, d.Config.Port, d.Config.Port+1, FirstPort, LastPort))
		}
		return ln, nil
	}
	for port := FirstPort; port <= LastPort; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(listen, strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
	}
	return nil, bootfail.New(bootfail.PortInUse,
		fmt.Sprintf("every port of %d-%d on %s is in use", FirstPort, LastPort, listen),
		fmt.Sprintf("Set a free port explicitly: PORT=8080 capsol serve (ss -ltn shows which ports are taken), or stop what holds %d-%d.", FirstPort, LastPort))
}

func (d *Daemon) serve(listener net.Listener) {
	d.Port = listener.Addr().(*net.TCPAddr).Port
	host := d.Config.Listen
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	d.URL = "http://" + net.JoinHostPort(host, strconv.Itoa(d.Port))
	d.BaseURL = d.Config.BaseURL(d.Port)
	if saved := d.Store.Settings.Get().PublicURL; d.Config.PublicURL == "" && saved != nil && *saved != "" {
		d.BaseURL = *saved
	}

	d.Registry.BaseURL = d.BaseURL
	d.Server = &api.Server{
		Store: d.Store, Registry: d.Registry, Metrics: d.Metrics, Logger: d.Logger, AdminKey: d.AdminKey, BaseURL: d.BaseURL,
		MCP:    mcpserver.New(d.Registry, d.Logger, d.Metrics),
		OAuth:  oauth.New(d.Registry, d.AdminKey, d.SecretKey, d.Logger),
		SignIn: d.SignIn, Dashboard: d.Dashboard,
	}
	d.Server.OAuth.Approver = d.SignIn.Approver
	d.http = &http.Server{
		Handler:           d.Server.Router(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.Logger.Handler(), slog.LevelWarn),
	}
	d.serveErr = make(chan error, 1)
	go func() {
		err := d.http.Serve(listener)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		d.serveErr <- err
	}()

	if err := d.lock.SetURL(d.URL); err != nil {
		d.Logger.Error("cannot record the URL in the lock file", "error", err)
	}
	d.Logger.Info("listening", "url", d.URL, "public_url", d.BaseURL)
	d.Server.SetState(api.StateReady)
	d.Logger.Info("ready", "version", version.Version)
}

// ReloadAdminKey reads the admin key again from its source (SIGHUP).
// Sessions bound to the old key stop matching at once.
func (d *Daemon) ReloadAdminKey() error {
	if err := d.AdminKey.Reload(); err != nil {
		d.Logger.Error("admin key reload failed; the previous key stays in effect", "source", d.AdminKey.Source(), "error", err)
		return err
	}
	d.Logger.Info("admin key reloaded", "source", d.AdminKey.Source())
	return nil
}

// Wait serves until ctx ends or the server fails, then shuts down.
func (d *Daemon) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		d.Logger.Info("shutdown requested")
	case err := <-d.serveErr:
		if err != nil {
			d.Logger.Error("server stopped", "error", err)
		}
		d.serveErr <- err
	}
	return d.Shutdown()
}

// Shutdown reports stopping on /ready, lets in-flight requests (and the
// writes they make) finish, stops the janitor and releases the lock.
func (d *Daemon) Shutdown() error {
	d.Server.SetState(api.StateStopping)
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()

	err := d.http.Shutdown(ctx)
	if err != nil {
		d.Logger.Error("in-flight requests did not finish in time", "timeout", ShutdownTimeout.String(), "error", err)
	}
	// No request can record a use any more, so this flush is the last.
	if err := d.Registry.StopUsageFlusher(); err != nil {
		d.Logger.Error("cannot write last_used_at of connections", "error", err)
	}
	d.janitor.Stop()
	if err := d.Registry.CloseRegistryAudit(); err != nil {
		d.Logger.Error("cannot close the registry audit", "error", err)
	}
	if err := d.Registry.Close(); err != nil {
		d.Logger.Error("cannot close audit logs", "error", err)
	}
	d.releaseLock()
	d.Logger.Info("stopped")
	if serveErr := <-d.serveErr; serveErr != nil && err == nil {
		err = serveErr
	}
	return err
}

func (d *Daemon) releaseLock() {
	if d.lock == nil {
		return
	}
	if err := d.lock.Release(); err != nil {
		d.Logger.Error("cannot release the data directory lock", "error", err)
	}
	d.lock = nil
}
