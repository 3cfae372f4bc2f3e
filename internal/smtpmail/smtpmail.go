// Package smtpmail sends plain-text email through the SMTP server named by
// the registry's smtp_url setting. It never logs or returns the URL, which
// may hold a password.
package smtpmail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Timeout bounds one delivery: connecting, the SMTP dialogue and the data.
const Timeout = 20 * time.Second

// Message is one plain-text email.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Config is a parsed smtp_url.
type Config struct {
	// Addr is host:port. The default port is 587 for smtp and 465 for
	// smtps.
	Addr     string
	Host     string
	Implicit bool // smtps://: TLS from the first byte
	Username string
	Password string
	From     string
}

// ParseURL parses smtp://[user:pass@]host[:port][?from=address] and the
// same with smtps://. defaultFrom is the sender when the URL names none.
// Errors never contain the URL.
func ParseURL(rawURL, defaultFrom string) (Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return Config{}, errors.New("smtp_url is not smtp://[user:pass@]host[:port] or smtps://…")
	}
	cfg := Config{Host: u.Hostname(), Implicit: u.Scheme == "smtps", From: defaultFrom}
	port := u.Port()
	if port == "" {
		port = "587"
		if cfg.Implicit {
			port = "465"
		}
	}
	cfg.Addr = net.JoinHostPort(cfg.Host, port)
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if from := u.Query().Get("from"); from != "" {
		cfg.From = from
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return Config{}, fmt.Errorf("sender address %q is invalid; add ?from=capsol@example.com to smtp_url", cfg.From)
	}
	return cfg, nil
}

// Send delivers msg. On smtp:// it upgrades with STARTTLS when the server
// offers it. Credentials are only sent over TLS or to a loopback server,
// as net/smtp's PLAIN authentication enforces.
func Send(ctx context.Context, cfg Config, msg Message) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()

	var conn net.Conn
	var err error
	dialer := &net.Dialer{}
	if cfg.Implicit {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: &tls.Config{ServerName: cfg.Host}}).DialContext(ctx, "tcp", cfg.Addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("connect to SMTP server %s: %w", cfg.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	client, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP greeting from %s: %w", cfg.Addr, err)
	}
	defer client.Close()

	if !cfg.Implicit {
		if ok, _ := client.Extension("STARTTLS"); ok {
			if err := client.StartTLS(&tls.Config{ServerName: cfg.Host}); err != nil {
				return fmt.Errorf("STARTTLS with %s: %w", cfg.Addr, err)
			}
		}
	}
	if cfg.Username != "" {
		if err := client.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("SMTP authentication as %s with %s: %w", cfg.Username, cfg.Addr, err)
		}
	}
	if err := client.Mail(cfg.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM %s: %w", cfg.From, err)
	}
	if err := client.Rcpt(msg.To); err != nil {
		return fmt.Errorf("SMTP RCPT TO %s: %w", msg.To, err)
	}
	w, err := client.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	if _, err := w.Write(compose(cfg.From, msg, time.Now())); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP server rejected the message: %w", err)
	}
	return client.Quit()
}

// compose renders the headers and body with CRLF line endings.
func compose(from string, msg Message, now time.Time) []byte {
	var b strings.Builder
	header := func(name, value string) {
		b.WriteString(name + ": " + value + "\r\n")
	}
	header("From", from)
	header("To", msg.To)
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(msg.Body, "\r\n", "\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	return []byte(b.String())
}
