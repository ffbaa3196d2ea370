package tenancy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/mail"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestInvitationMailer(t *testing.T) {
	if InvitationMailer(nil, "http://x") != nil {
		t.Fatal("a mailer without a sender")
	}
	var got mail.Message
	send := InvitationMailer(mail.SenderFunc(func(_ context.Context, m mail.Message) error { got = m; return nil }), "https://app.example.test/")
	inv := Invitation{Token: NewInvitationToken(), Email: "new@acme.test", Role: auth.RoleAdmin,
		ExpiresAt: isotime.From(time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC))}
	if err := send(context.Background(), inv, "Ann <script>", "Acme & Co"); err != nil {
		t.Fatal(err)
	}
	link := "https://app.example.test/invite/" + inv.Token
	switch {
	case got.To != "new@acme.test":
		t.Fatalf("to %q", got.To)
	case !strings.Contains(got.Subject, "Acme & Co"):
		t.Fatalf("subject %q", got.Subject)
	case !strings.Contains(got.Text, link) || !strings.Contains(got.Text, "June 10, 2026") || !strings.Contains(got.Text, "admin"):
		t.Fatalf("text %q", got.Text)
	case !strings.Contains(got.HTML, `href="`+link+`"`) || strings.Contains(got.HTML, "<script>") || !strings.Contains(got.HTML, "Acme &amp; Co"):
		t.Fatalf("html %q", got.HTML)
	}
	failing := InvitationMailer(mail.SenderFunc(func(context.Context, mail.Message) error { return errors.New("smtp down") }), "http://x")
	if err := failing(context.Background(), inv, "Ann", "Acme"); err == nil || !strings.Contains(err.Error(), "smtp down") {
		t.Fatalf("error %v", err)
	}
}
