package tenancy

import (
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/appstrate/appstrate-go/internal/mail"
)

// InvitationMailer returns a SendInvitationFunc that mails the invitation link <appURL>/invite/<token> through
// sender; nil when sender is nil (no SMTP).
func InvitationMailer(sender mail.Sender, appURL string) SendInvitationFunc {
	if sender == nil {
		return nil
	}
	base := strings.TrimRight(appURL, "/")
	return func(ctx context.Context, inv Invitation, inviterName, orgName string) error {
		link := base + "/invite/" + inv.Token
		subject := fmt.Sprintf("%s invited you to join %s on Appstrate", inviterName, orgName)
		expires := inv.ExpiresAt.Format("January 2, 2006")
		text := fmt.Sprintf("Hello,\n\n%s invited you to join the organization %q on Appstrate as %s.\n\n"+
			"Accept the invitation by opening this link:\n\n%s\n\nThe invitation expires on %s. "+
			"If you did not expect it, ignore this message.\n", inviterName, orgName, inv.Role, link, expires)
		body := fmt.Sprintf(`<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">`+
			`<p>Hello,</p><p>%s invited you to join the organization <strong>%s</strong> on Appstrate as %s.</p>`+
			`<p><a href="%s">Accept the invitation</a></p>`+
			`<p style="color:#666;font-size:0.9em">The invitation expires on %s. If you did not expect it, ignore this message.</p>`+
			`</body></html>`, html.EscapeString(inviterName), html.EscapeString(orgName), html.EscapeString(string(inv.Role)),
			html.EscapeString(link), expires)
		if err := sender.Send(ctx, mail.Message{To: inv.Email, Subject: subject, Text: text, HTML: body}); err != nil {
			return fmt.Errorf("send invitation to %s: %w", inv.Email, err)
		}
		return nil
	}
}
