package authroutes_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/mail/mailtest"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// runWithSMTP is apptest.Run with the platform pointed at a fresh mailtest server per dialect.
func runWithSMTP(t *testing.T, fn func(t *testing.T, e *apptest.Env, srv *mailtest.Server)) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Username: "mailer", Password: "smtp-pass"})
		env := baseEnv("SMTP_HOST", srv.Host(), "SMTP_PORT", strconv.Itoa(srv.Port()), "SMTP_USER", "mailer",
			"SMTP_PASS", "smtp-pass", "SMTP_FROM", "Appstrate <noreply@example.com>")
		fn(t, apptest.New(t, db, env), srv)
	})
}

var linkPattern = regexp.MustCompile(`https?://\S+`)

// lastLink returns the link of the newest message sent to addr, and the number of messages to addr.
func lastLink(t *testing.T, srv *mailtest.Server, addr string) (*url.URL, int) {
	t.Helper()
	var link string
	n := 0
	for _, m := range srv.Messages() {
		if len(m.To) == 1 && m.To[0] == addr {
			n++
			link = linkPattern.FindString(m.Text())
		}
	}
	if n == 0 {
		return nil, 0
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("link %q: %v", link, err)
	}
	return u, n
}

func TestEmailVerificationFlow(t *testing.T) {
	runWithSMTP(t, func(t *testing.T, e *apptest.Env, srv *mailtest.Server) {
		const addr = "verify-" + "me@example.com"
		c := newClient(e)
		res := c.do("POST", "/api/auth/sign-up/email", map[string]any{"email": addr, "password": password, "name": "Véra", "callbackURL": "/welcome"})
		expectStatus(t, res, 200)
		if !strings.Contains(string(res.Body), `"token":null`) || res.Header.Get("Set-Cookie") != "" || c.cookie != "" {
			t.Fatalf("sign-up with verification signed in: %s / %q", res.Body, res.Header.Get("Set-Cookie"))
		}
		link, n := lastLink(t, srv, addr)
		if n != 1 || link.Path != "/api/auth/verify-email" || link.Query().Get("callbackURL") != "/welcome" || link.Query().Get("token") == "" {
			t.Fatalf("verification link %v (%d mails)", link, n)
		}
		for _, m := range srv.Messages() {
			if m.To[0] == addr && (m.Header("Subject") != "Vérifiez votre adresse e-mail" || m.AuthUser != "mailer" || !strings.Contains(m.Text(), "Véra")) {
				t.Fatalf("verification mail: subject %q user %q\n%s", m.Header("Subject"), m.AuthUser, m.Text())
			}
		}

		// Not verified yet: sign-in refused.
		expectError(t, newClient(e).signIn(t, addr, password), 403, "EMAIL_NOT_VERIFIED")

		// Unknown and verified addresses get {status:true} and no mail; the user gets a second link.
		for _, email := range []string{"nobody@example.com", addr} {
			res = newClient(e).do("POST", "/api/auth/send-verification-email", map[string]any{"email": email})
			if expectStatus(t, res, 200); strings.TrimSpace(string(res.Body)) != `{"status":true}` {
				t.Fatalf("send-verification-email %s", res.Body)
			}
		}
		if _, n := lastLink(t, srv, "nobody@example.com"); n != 0 {
			t.Fatal("mail sent to an unknown address")
		}
		second, n := lastLink(t, srv, addr)
		if n != 2 {
			t.Fatalf("%d verification mails", n)
		}
		expectError(t, newClient(e).do("POST", "/api/auth/send-verification-email", map[string]any{"email": addr, "callbackURL": "https://evil.example"}), 403, "INVALID_CALLBACK_URL")

		// Following the link verifies, signs in and redirects.
		v := newClient(e)
		res = v.do("GET", link.RequestURI(), nil)
		if res.Status != 302 || res.Header.Get("Location") != "/welcome" || v.cookie == "" {
			t.Fatalf("verify: %d %q cookie=%q %s", res.Status, res.Header.Get("Location"), v.cookie, res.Body)
		}
		if s := v.getSession(t); s == nil || !s.User.EmailVerified || s.User.Email != addr {
			t.Fatalf("session after verification: %+v", s)
		}
		// The link is single-use.
		res = newClient(e).do("GET", link.RequestURI(), nil)
		if res.Status != 302 || res.Header.Get("Location") != "/welcome?error=invalid_token" {
			t.Fatalf("reused link: %d %q", res.Status, res.Header.Get("Location"))
		}
		expectError(t, newClient(e).do("GET", "/api/auth/verify-email?token=nope", nil), 401, "INVALID_TOKEN")
		expectError(t, newClient(e).do("GET", "/api/auth/verify-email?token=x&callbackURL=https://evil.example/", nil), 403, "INVALID_CALLBACK_URL")
		// The second link still works (and is harmless) without a callback: JSON answer.
		res = newClient(e).do("GET", "/api/auth/verify-email?token="+second.Query().Get("token"), nil)
		if expectStatus(t, res, 200); !strings.Contains(string(res.Body), `"status":true`) {
			t.Fatalf("verify without callback %s", res.Body)
		}
		expectStatus(t, newClient(e).signIn(t, addr, password), 200)
		assertNoSecretsLogged(t, e, link.Query().Get("token"), second.Query().Get("token"))
	})
}

func TestPasswordResetAndChangeFlow(t *testing.T) {
	runWithSMTP(t, func(t *testing.T, e *apptest.Env, srv *mailtest.Server) {
		const addr = "reset@example.com"
		// A verified user with two sessions.
		uid := e.SeedUser(addr)
		if err := e.App.Accounts.SetPassword(context.Background(), e.DB, uid, password); err != nil {
			t.Fatal(err)
		}
		phone, laptop := newClient(e), newClient(e)
		expectStatus(t, phone.signIn(t, addr, password), 200)
		expectStatus(t, laptop.signIn(t, addr, password), 200)

		// No enumeration: unknown addresses get the same answer and no mail.
		for _, email := range []string{"nobody@example.com", addr} {
			res := newClient(e).do("POST", "/api/auth/request-password-reset", map[string]any{"email": email})
			if expectStatus(t, res, 200); strings.TrimSpace(string(res.Body)) != `{"status":true}` {
				t.Fatalf("request-password-reset %s", res.Body)
			}
		}
		link, n := lastLink(t, srv, addr)
		if n != 1 || link.Scheme+"://"+link.Host != appOrigin || link.Path != "/reset-password" || len(link.Query().Get("token")) != 32 {
			t.Fatalf("reset link %v (%d mails)", link, n)
		}
		if _, n := lastLink(t, srv, "nobody@example.com"); n != 0 {
			t.Fatal("mail sent to an unknown address")
		}
		token := link.Query().Get("token")

		expectError(t, newClient(e).do("POST", "/api/auth/request-password-reset", map[string]any{"email": addr, "redirectTo": "https://evil.example/r"}), 403, "INVALID_REDIRECT_URL")
		expectError(t, newClient(e).do("POST", "/api/auth/reset-password", map[string]any{"newPassword": "brand-new-pass", "token": "wrong"}), 400, "INVALID_TOKEN")
		expectError(t, newClient(e).do("POST", "/api/auth/reset-password", map[string]any{"newPassword": "short", "token": token}), 400, "PASSWORD_TOO_SHORT")
		res := newClient(e).do("POST", "/api/auth/reset-password", map[string]any{"newPassword": "brand-new-pass", "token": token})
		if expectStatus(t, res, 200); strings.TrimSpace(string(res.Body)) != `{"status":true}` {
			t.Fatalf("reset-password %s", res.Body)
		}
		// Every session ended; the token is spent; only the new password works.
		if phone.getSession(t) != nil || laptop.getSession(t) != nil {
			t.Fatal("sessions survived a password reset")
		}
		expectError(t, newClient(e).do("POST", "/api/auth/reset-password", map[string]any{"newPassword": "another-pass", "token": token}), 400, "INVALID_TOKEN")
		expectError(t, newClient(e).signIn(t, addr, password), 401, "INVALID_EMAIL_OR_PASSWORD")
		expectStatus(t, phone.signIn(t, addr, "brand-new-pass"), 200)
		expectStatus(t, laptop.signIn(t, addr, "brand-new-pass"), 200)

		// A custom reset page (trusted path) receives the token.
		expectStatus(t, newClient(e).do("POST", "/api/auth/request-password-reset", map[string]any{"email": addr, "redirectTo": "/account/reset?step=2"}), 200)
		custom, _ := lastLink(t, srv, addr)
		if custom.Path != "/account/reset" || custom.Query().Get("step") != "2" || custom.Query().Get("token") == "" {
			t.Fatalf("custom reset link %v", custom)
		}

		// change-password: checks the current password, keeps the caller's session, ends the others.
		expectError(t, phone.do("POST", "/api/auth/change-password", map[string]any{"currentPassword": "wrong-one", "newPassword": "third-password"}), 400, "INVALID_PASSWORD")
		expectError(t, phone.do("POST", "/api/auth/change-password", map[string]any{"currentPassword": "brand-new-pass", "newPassword": "short"}), 400, "PASSWORD_TOO_SHORT")
		res = phone.do("POST", "/api/auth/change-password", map[string]any{"currentPassword": "brand-new-pass", "newPassword": "third-password", "revokeOtherSessions": true})
		expectStatus(t, res, 200)
		if !strings.Contains(string(res.Body), `"token":null`) || !strings.Contains(string(res.Body), `"email":"reset@example.com"`) {
			t.Fatalf("change-password %s", res.Body)
		}
		if phone.getSession(t) == nil || laptop.getSession(t) != nil {
			t.Fatal("revokeOtherSessions: wrong sessions kept")
		}
		expectStatus(t, newClient(e).signIn(t, addr, "third-password"), 200)
		assertNoSecretsLogged(t, e, token, password, "brand-new-pass", "third-password", "smtp-pass")
	})
}

func assertNoSecretsLogged(t *testing.T, e *apptest.Env, secrets ...string) {
	t.Helper()
	logs := e.Logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Fatalf("logs contain secret %q", s)
		}
	}
}
