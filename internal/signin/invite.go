package signin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/capsol/capsol/internal/registry"
	"github.com/capsol/capsol/internal/smtpmail"
)

// InviteResult is a created invite and how its link was delivered.
type InviteResult struct {
	registry.NewInvite
	// Emailed is true when the SMTP server accepted the invite email.
	Emailed bool `json:"emailed"`
	// EmailError is the reason the email was not sent although smtp_url
	// is set. The inviting operator then delivers the link by hand.
	EmailError string `json:"-"`
}

// Invite creates an operator invite and emails its link when smtp_url is
// set. A failed email leaves the invite in place, with Emailed false, so
// the link can be delivered by hand.
func (s *Service) Invite(ctx context.Context, email, role, actor string) (InviteResult, error) {
	invite, err := s.Registry.CreateInvite(email, role, actor)
	if err != nil {
		return InviteResult{}, err
	}
	result := InviteResult{NewInvite: invite}

	smtpURL, ok, err := s.Registry.SMTPURL(s.Cipher)
	switch {
	case errors.Is(err, registry.ErrUnreadable):
		result.EmailError = "the SMTP URL can no longer be decrypted because the secret key changed; re-enter it under Settings"
	case err != nil:
		result.EmailError = err.Error()
	case ok:
		if err := s.sendInvite(ctx, smtpURL, invite); err != nil {
			result.EmailError = err.Error()
		} else {
			result.Emailed = true
		}
	}
	if result.EmailError != "" {
		s.Logger.Error("invite email not sent; deliver the link by hand", "invite_id", invite.InviteID, "error", result.EmailError)
	} else if result.Emailed {
		s.Logger.Info("invite emailed", "invite_id", invite.InviteID)
	}
	return result, nil
}

func (s *Service) sendInvite(ctx context.Context, smtpURL string, invite registry.NewInvite) error {
	cfg, err := smtpmail.ParseURL(smtpURL, defaultSender(s.Registry.BaseURL))
	if err != nil {
		return err
	}
	return smtpmail.Send(ctx, cfg, smtpmail.Message{
		To:      invite.Email,
		Subject: "You are invited to operate the capsol registry",
		Body:    inviteBody(s.Registry.BaseURL, invite),
	})
}

// inviteBody is the text of the invite email.
func inviteBody(baseURL string, invite registry.NewInvite) string {
	return fmt.Sprintf(`Hello,

you have been invited to operate the capsol registry at %s with the role %q.

Open this link and sign in with your organization account (%s):

%s

The link works once and expires on %s.
If you did not expect this invite, ignore this email.
`, baseURL, invite.Role, invite.Email, invite.URL, invite.ExpiresAt.UTC().Format(time.RFC1123))
}

// defaultSender is the From address when smtp_url names none: capsol at
// the public URL's host.
func defaultSender(baseURL string) string {
	host := "localhost"
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	if !strings.Contains(host, ".") {
		host += ".localdomain"
	}
	return "capsol@" + host
}
