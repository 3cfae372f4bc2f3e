package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mattn/go-isatty"

	"github.com/capsol/capsol/internal/bootfail"
	"github.com/capsol/capsol/internal/config"
)

// NewLogger returns the daemon's slog logger: text on a terminal, JSON
// otherwise, unless format names one.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Main runs the daemon as a process: it boots, serves until SIGTERM or
// SIGINT, reloads the admin key on SIGHUP, and returns the exit status. A
// boot failure is printed on stderr as one JSON object.
func Main(cfg config.Config, stderr io.Writer) int {
	logger := NewLogger(cfg.LogFormat, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	defer signal.Stop(hangups)

	d, err := Boot(ctx, cfg, logger)
	if err != nil {
		return ReportBootFailure(stderr, err)
	}
	go func() {
		for range hangups {
			_ = d.ReloadAdminKey()
		}
	}()
	if err := d.Wait(ctx); err != nil {
		return 1
	}
	return 0
}

// ReportBootFailure prints err as a boot failure and returns the exit status.
func ReportBootFailure(stderr io.Writer, err error) int {
	var failure *bootfail.Error
	if !errors.As(err, &failure) {
		failure = bootfail.New("internal", err.Error(), "This is a bug in capsold: report it with the daemon log.")
	}
	_ = bootfail.Write(stderr, failure)
	return bootfail.ExitCode
}
