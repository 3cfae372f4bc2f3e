package oauth

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkRedirectURI validates a redirect URI at registration: https,
// loopback http (RFC 8252 7.3) or a private-use scheme such as cursor://
// (RFC 8252 7.1). Fragments are never allowed (RFC 6749 3.1.2).
func checkRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("redirect_uri %s is not an absolute URI", quote(raw))
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("redirect_uri %s has a fragment, which OAuth forbids", quote(raw))
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect_uri %s has no host", quote(raw))
		}
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("redirect_uri %s uses http on a non-loopback host; use https, or http://127.0.0.1, http://[::1] or http://localhost", quote(raw))
	case "javascript", "data", "file", "about", "blob", "vbscript":
		return fmt.Errorf("redirect_uri %s uses the scheme %s, which cannot receive a redirect safely", quote(raw), u.Scheme)
	}
	// A private-use scheme: RFC 8252 7.1 recommends a reverse domain name
	// scheme, but editors use short ones such as cursor:// and vscode://.
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// matchRedirectURI reports whether requested matches a registered URI:
// exactly, or for loopback http with any port while scheme, host, path and
// query match (RFC 8252 7.3).
func matchRedirectURI(registered []string, requested string) bool {
	req, err := url.Parse(requested)
	if err != nil {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
		reg, err := url.Parse(r)
		if err != nil || reg.Scheme != "http" || req.Scheme != "http" || !isLoopbackHost(reg.Hostname()) {
			continue
		}
		if reg.Hostname() == req.Hostname() && reg.Path == req.Path && reg.RawQuery == req.RawQuery && req.Fragment == "" && req.User == nil {
			return true
		}
	}
	return false
}
