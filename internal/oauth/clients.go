package oauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/capsol/capsol/internal/ids"
	"github.com/capsol/capsol/internal/secret"
	"github.com/capsol/capsol/internal/store"
)

// Token endpoint authentication methods.
const (
	authNone   = "none"
	authBasic  = "client_secret_basic"
	authPost   = "client_secret_post"
	secretPfx  = "capsol_cs_"
	cimdMaxLen = 64 << 10
)

// client is a registered or metadata-document client.
type client struct {
	PrincipalID  string
	ClientID     string
	Name         string
	RedirectURIs []string
	AuthMethod   string
	SecretHash   string
}

// registrationRequest is the RFC 7591 client metadata capsol reads.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	SoftwareID              string   `json:"software_id"`
	SoftwareVersion         string   `json:"software_version"`
	ClientID                string   `json:"client_id"`
}

func registrationError(c *gin.Context, code, description string) {
	c.Set("error_code", code)
	c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": code, "error_description": description})
}

// register implements RFC 7591 dynamic client registration.
func (s *Server) register(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxRegistrationBytes+1))
	if err != nil {
		registrationError(c, "invalid_client_metadata", "cannot read the registration request: "+err.Error())
		return
	}
	if len(body) > maxRegistrationBytes {
		registrationError(c, "invalid_client_metadata",
			fmt.Sprintf("registration request is over %d bytes; send only the client metadata", maxRegistrationBytes))
		return
	}
	var req registrationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		registrationError(c, "invalid_client_metadata", "registration request is not a JSON object: "+err.Error())
		return
	}
	if err := checkClientMetadata(&req); err != nil {
		code := "invalid_client_metadata"
		if errors.Is(err, errRedirect) {
			code = "invalid_redirect_uri"
		}
		registrationError(c, code, err.Error())
		return
	}

	now := s.Registry.Now()
	principal := store.Principal{ID: ids.New(ids.Principal), Kind: store.PrincipalClient, Name: req.ClientName,
		RedirectURIs: req.RedirectURIs, CreatedAt: now}
	clientID := principal.ID
	principal.ClientID = &clientID
	method := req.TokenEndpointAuthMethod
	principal.AuthMethod = &method
	var clientSecret string
	if method != authNone {
		clientSecret = secret.NewToken(secretPfx)
		hash := secret.Hash(clientSecret)
		principal.SecretHash = &hash
	}
	err = s.Registry.Store.Principals.Update(func(doc *store.PrincipalsDoc) error {
		doc.Principals = append(doc.Principals, principal)
		return nil
	})
	if err != nil {
		_ = c.Error(err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "server_error", "error_description": "cannot store the client; the daemon log has the details"})
		return
	}
	s.Logger.Info("OAuth client registered", "principal_id", principal.ID, "client_name", req.ClientName,
		"token_endpoint_auth_method", method, "redirect_uris", len(req.RedirectURIs))

	resp := gin.H{
		"client_id":                  clientID,
		"client_id_issued_at":        now.Unix(),
		"client_name":                req.ClientName,
		"redirect_uris":              req.RedirectURIs,
		"token_endpoint_auth_method": method,
		"grant_types":                req.GrantTypes,
		"response_types":             req.ResponseTypes,
	}
	if req.Scope != "" {
		resp["scope"] = req.Scope
	}
	if clientSecret != "" {
		resp["client_secret"] = clientSecret
		resp["client_secret_expires_at"] = 0
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, resp)
}

var errRedirect = errors.New("invalid redirect URI")

// checkClientMetadata validates and completes registration metadata.
func checkClientMetadata(req *registrationRequest) error {
	if len(req.RedirectURIs) == 0 {
		return fmt.Errorf("%w: redirect_uris is empty; register at least one, such as http://127.0.0.1/callback", errRedirect)
	}
	if len(req.RedirectURIs) > maxRedirectURIs {
		return fmt.Errorf("%w: %d redirect_uris registered, at most %d are allowed", errRedirect, len(req.RedirectURIs), maxRedirectURIs)
	}
	for _, uri := range req.RedirectURIs {
		if len(uri) > 2000 {
			return fmt.Errorf("%w: a redirect_uri is %d bytes long, at most 2000 are allowed", errRedirect, len(uri))
		}
		if err := checkRedirectURI(uri); err != nil {
			return fmt.Errorf("%w: %v", errRedirect, err)
		}
	}

	req.ClientName = strings.TrimSpace(req.ClientName)
	if req.ClientName == "" {
		req.ClientName = "unnamed client"
	}
	if len(req.ClientName) > maxClientNameBytes {
		return fmt.Errorf("client_name is %d bytes, at most %d are allowed", len(req.ClientName), maxClientNameBytes)
	}

	switch req.TokenEndpointAuthMethod {
	case "":
		req.TokenEndpointAuthMethod = authNone
	case authNone, authBasic, authPost:
	default:
		return fmt.Errorf("token_endpoint_auth_method %q is not supported; use none, client_secret_basic or client_secret_post", req.TokenEndpointAuthMethod)
	}

	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range req.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return fmt.Errorf("grant_types contains %q; capsol supports authorization_code and refresh_token", g)
		}
	}

	if len(req.ResponseTypes) == 0 {
		req.ResponseTypes = []string{"code"}
	}
	for _, rt := range req.ResponseTypes {
		if rt != "code" {
			return fmt.Errorf("response_types contains %q; capsol supports only code", rt)
		}
	}
	return nil
}

// lookupClient finds a client by client_id: a registered one, or for an
// https client_id a Client ID Metadata Document fetched now.
func (s *Server) lookupClient(ctx context.Context, clientID string) (*client, error) {
	if strings.HasPrefix(clientID, "https://") {
		return s.metadataDocumentClient(ctx, clientID)
	}
	if !ids.Valid(ids.Principal, clientID) {
		return nil, fmt.Errorf("client_id %s is not registered; register with POST /oauth/register", quote(clientID))
	}
	for _, p := range s.Registry.Store.Principals.Get().Principals {
		if p.Kind == store.PrincipalClient && p.ClientID != nil && *p.ClientID == clientID {
			return clientOf(p), nil
		}
	}
	return nil, fmt.Errorf("client_id %s is not registered; register with POST /oauth/register", quote(clientID))
}

func clientOf(p store.Principal) *client {
	c := &client{PrincipalID: p.ID, Name: p.Name, RedirectURIs: p.RedirectURIs, AuthMethod: authNone}
	if p.ClientID != nil {
		c.ClientID = *p.ClientID
	}
	if p.AuthMethod != nil {
		c.AuthMethod = *p.AuthMethod
	}
	if p.SecretHash != nil {
		c.SecretHash = *p.SecretHash
	}
	return c
}

// metadataDocumentClient fetches and checks a Client ID Metadata Document
// and records its client as a principal on first use.
func (s *Server) metadataDocumentClient(ctx context.Context, clientID string) (*client, error) {
	u, err := url.Parse(clientID)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("client_id %s is not an https URL of a client metadata document", quote(clientID))
	}
	doc, err := s.fetchMetadataDocument(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if doc.ClientID != clientID {
		return nil, fmt.Errorf("client metadata document at %s names client_id %s, not itself", clientID, quote(doc.ClientID))
	}
	if doc.TokenEndpointAuthMethod == "" {
		doc.TokenEndpointAuthMethod = authNone
	}
	if doc.TokenEndpointAuthMethod != authNone {
		return nil, fmt.Errorf("client metadata document at %s asks for token_endpoint_auth_method %q; documents may only use none", clientID, doc.TokenEndpointAuthMethod)
	}
	if err := checkClientMetadata(doc); err != nil {
		return nil, fmt.Errorf("client metadata document at %s: %v", clientID, err)
	}

	var existing *store.Principal
	for _, p := range s.Registry.Store.Principals.Get().Principals {
		if p.Kind == store.PrincipalClient && p.ClientID != nil && *p.ClientID == clientID {
			existing = &p
			break
		}
	}
	principal := store.Principal{ID: ids.New(ids.Principal), Kind: store.PrincipalClient, CreatedAt: s.Registry.Now()}
	if existing != nil {
		principal = *existing
	}
	principal.Name, principal.RedirectURIs = doc.ClientName, doc.RedirectURIs
	principal.ClientID = &clientID
	method := authNone
	principal.AuthMethod = &method
	err = s.Registry.Store.Principals.Update(func(d *store.PrincipalsDoc) error {
		for i := range d.Principals {
			if d.Principals[i].ID == principal.ID {
				d.Principals[i] = principal
				return nil
			}
		}
		d.Principals = append(d.Principals, principal)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store client %s: %w", clientID, err)
	}
	return clientOf(principal), nil
}

// fetchMetadataDocument GETs a client metadata document: at most 64 KiB,
// 5 seconds, no redirects, and no private or loopback addresses unless the
// setting oauth.allow_private_client_metadata is on.
func (s *Server) fetchMetadataDocument(ctx context.Context, docURL string) (*registrationRequest, error) {
	allowPrivate := s.Registry.Store.Settings.Get().OAuth.AllowPrivateClientMetadata
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return fmt.Errorf("refusing to connect to %s: not an IP address", host)
		}
		if !allowPrivate && (!ip.IsGlobalUnicast() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()) {
			return fmt.Errorf("refusing to fetch client metadata from private address %s; an operator can allow it with the setting oauth.allow_private_client_metadata", ip)
		}
		return nil
	}}

	httpClient := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DialContext:     dialer.DialContext,
			TLSClientConfig: &tls.Config{RootCAs: s.metadataRootCAs.Load(), MinVersion: tls.VersionTLS12},
			Proxy:           nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return nil, fmt.Errorf("client_id %s is not a usable URL: %v", quote(docURL), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch client metadata document %s: %v", docURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("client metadata document %s responded with HTTP %d (redirects are not followed)", docURL, resp.StatusCode)
	}

	data, err := io.ReadAll(io.LimitReader(resp.Body, cimdMaxLen+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read client metadata document %s: %v", docURL, err)
	}
	if len(data) > cimdMaxLen {
		return nil, fmt.Errorf("client metadata document %s is over %d bytes", docURL, cimdMaxLen)
	}

	var doc registrationRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("client metadata document %s is not a JSON object: %v", docURL, err)
	}
	return &doc, nil
}

// authenticateClient checks the client of a token or revocation request
// (RFC 6749 2.3): HTTP Basic, form fields, or only client_id for public
// clients.
func (s *Server) authenticateClient(c *gin.Context) (*client, error) {
	clientID, clientSecret, basic := c.Request.BasicAuth()
	if basic {
		if id, err := url.QueryUnescape(clientID); err == nil {
			clientID = id
		}
		if sec, err := url.QueryUnescape(clientSecret); err == nil {
			clientSecret = sec
		}
	} else {
		clientID = c.PostForm("client_id")
		clientSecret = c.PostForm("client_secret")
	}
	if clientID == "" {
		return nil, errors.New("client_id is missing; send it as a form field or with HTTP Basic authentication")
	}
	cl, err := s.lookupClient(c.Request.Context(), clientID)
	if err != nil {
		return nil, err
	}
	if cl.AuthMethod == authNone {
		return cl, nil
	}
	if clientSecret == "" || !secret.Equal(secret.Hash(clientSecret), cl.SecretHash) {
		return nil, fmt.Errorf("client authentication failed for %s; send the client_secret issued at registration", clientID)
	}
	return cl, nil
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
