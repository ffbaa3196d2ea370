package mail_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/mail"
	"github.com/appstrate/appstrate-go/internal/mail/mailtest"
)

func TestSMTPSend(t *testing.T) {
	tests := []struct {
		name     string
		server   mailtest.Options
		user     string
		pass     string
		wantErr  string
		wantTLS  bool
		wantUser string
		implicit bool
	}{
		{name: "implicit TLS (SMTPS)", server: mailtest.Options{Username: "u", Password: "p", TLS: true},
			user: "u", pass: "p", wantTLS: true, wantUser: "u", implicit: true},
		{name: "STARTTLS then AUTH PLAIN", server: mailtest.Options{Username: "u", Password: "p", STARTTLS: true},
			user: "u", pass: "p", wantTLS: true, wantUser: "u"},
		{name: "AUTH LOGIN when PLAIN is not offered", server: mailtest.Options{Username: "u", Password: "p", STARTTLS: true, Mechs: []string{"LOGIN"}},
			user: "u", pass: "p", wantTLS: true, wantUser: "u"},
		{name: "plain text to a loopback server", server: mailtest.Options{Username: "u", Password: "p"},
			user: "u", pass: "p", wantUser: "u"},
		{name: "no credentials, no AUTH", server: mailtest.Options{}},
		{name: "wrong password", server: mailtest.Options{Username: "u", Password: "p", STARTTLS: true},
			user: "u", pass: "nope", wantErr: "535"},
		{name: "no shared mechanism", server: mailtest.Options{STARTTLS: true, Mechs: []string{"CRAM-MD5"}},
			user: "u", pass: "p", wantErr: "no supported AUTH mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.server)
			s := &mail.SMTP{Host: srv.Host(), Port: srv.Port(), Username: tt.user, Password: tt.pass,
				From: "Appstrate <noreply@example.com>", TLSConfig: srv.ClientTLSConfig(), ImplicitTLS: tt.implicit}
			msg, err := mail.VerificationEmail("fr", "alice@example.com", mail.LinkData{Name: "Alice", URL: "https://app.example.com/verify?token=abc&x=1"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), msg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Fatalf("%d messages accepted after a failure", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("got %d messages", len(got))
			}
			m := got[0]
			if m.From != "noreply@example.com" || len(m.To) != 1 || m.To[0] != "alice@example.com" {
				t.Fatalf("envelope %q → %q", m.From, m.To)
			}
			if m.TLS != tt.wantTLS || m.AuthUser != tt.wantUser {
				t.Fatalf("tls=%v user=%q, want %v %q", m.TLS, m.AuthUser, tt.wantTLS, tt.wantUser)
			}
			if subj := m.Header("Subject"); subj != "Vérifiez votre adresse e-mail" {
				t.Fatalf("subject %q", subj)
			}
			if !strings.Contains(m.Text(), "https://app.example.com/verify?token=abc&x=1") {
				t.Fatalf("text part lacks the link:\n%s", m.Text())
			}
			if !strings.Contains(m.HTML(), `href="https://app.example.com/verify?token=abc&amp;x=1"`) {
				t.Fatalf("html part lacks the escaped link:\n%s", m.HTML())
			}
		})
	}
}

func TestTemplatesLanguages(t *testing.T) {
	tests := []struct {
		kind    func(lang, to string, d mail.LinkData) (mail.Message, error)
		lang    string
		subject string
	}{
		{mail.VerificationEmail, "fr", "Vérifiez votre adresse e-mail"},
		{mail.VerificationEmail, "en", "Verify your email address"},
		{mail.VerificationEmail, "de", "Verify your email address"},
		{mail.PasswordResetEmail, "fr", "Réinitialisation de votre mot de passe"},
		{mail.PasswordResetEmail, "en", "Reset your password"},
	}
	for _, tt := range tests {
		m, err := tt.kind(tt.lang, "bob@example.com", mail.LinkData{URL: "https://x.test/r?token=t"})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != tt.subject || !strings.Contains(m.Text, "https://x.test/r?token=t") || m.To != "bob@example.com" {
			t.Fatalf("%s: %+v", tt.lang, m)
		}
		if strings.Contains(m.Text, "Bonjour ,") || strings.Contains(m.Text, "Hello ,") {
			t.Fatalf("empty name rendered badly: %q", m.Text)
		}
	}
}

func TestRenderRejectsHeaderInjection(t *testing.T) {
	raw, err := mail.Render(mail.Message{From: "a@example.com", To: "b@example.com", Subject: "hi\r\nBcc: evil@example.com", Text: "x"}, timeZero())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "\r\nBcc:") {
		t.Fatalf("subject injected a header:\n%s", raw)
	}
	if _, err := mail.Render(mail.Message{From: "a@example.com", To: "not an address", Text: "x"}, timeZero()); err == nil {
		t.Fatal("bad recipient accepted")
	}
}
func timeZero() time.Time { return time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC) }
