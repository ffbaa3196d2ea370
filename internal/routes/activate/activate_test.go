package activate_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestPagesNeedASession(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		c := oidctest.NewClient(e)
		for _, tt := range []struct {
			method, path, body string
			status             int
			location           string
		}{
			{"GET", "/activate", "", 302, "/auth/login?returnTo=%2Factivate"},
			{"GET", "/activate?user_code=BCDF-GHJK", "", 302, "/auth/login?returnTo=" + url.QueryEscape("/activate?user_code=BCDF-GHJK")},
			{"POST", "/activate", oidctest.Form("user_code", "bcdfghjk", "_csrf", "x"), 303, "/auth/login?returnTo=" + url.QueryEscape("/activate?user_code=bcdfghjk")},
			{"POST", "/activate/approve", oidctest.Form("user_code", "BCDFGHJK", "_csrf", "x"), 303, "/auth/login?returnTo=" + url.QueryEscape("/activate?user_code=BCDFGHJK")},
			{"POST", "/activate/deny", oidctest.Form("user_code", "BCDFGHJK", "_csrf", "x"), 303, "/auth/login?returnTo=" + url.QueryEscape("/activate?user_code=BCDFGHJK")},
		} {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := c.Do(tt.method, tt.path, body)
			if res.Status != tt.status || res.Header.Get("Location") != tt.location {
				t.Errorf("%s %s: %d Location=%q, want %d %q", tt.method, tt.path, res.Status, res.Header.Get("Location"), tt.status, tt.location)
			}
		}
	})
}

func TestEnterCodeAndCSRF(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		ada, bob := oidctest.NewClient(e), oidctest.NewClient(e)
		ada.SignIn(e.SeedUser("ada@example.com"))
		bob.SignIn(e.SeedUser("bob@example.com"))
		page := ada.Do("GET", "/activate", nil)
		if page.Status != 200 || !strings.Contains(string(page.Body), "Saisissez le code") {
			t.Fatalf("entry page: %d %s", page.Status, page.Body)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
			if page.Header.Get(h) == "" {
				t.Errorf("page lacks %s", h)
			}
		}
		token := oidctest.CSRF(t, page.Body)
		bobToken := oidctest.CSRF(t, bob.Do("GET", "/activate", nil).Body)
		if token == bobToken {
			t.Fatal("two sessions share a CSRF token")
		}
		res := ada.Do("POST", "/activate", oidctest.Form("user_code", " bcdf-ghjk ", "_csrf", token))
		if res.Status != 303 || res.Header.Get("Location") != "/activate?user_code=BCDFGHJK" {
			t.Fatalf("enter code: %d %q", res.Status, res.Header.Get("Location"))
		}
		for name, csrf := range map[string]string{"missing": "", "forged": "abc", "another session's": bobToken} {
			if res := ada.Do("POST", "/activate", oidctest.Form("user_code", "bcdfghjk", "_csrf", csrf)); res.Status != 403 {
				t.Errorf("%s CSRF token: %d", name, res.Status)
			}
		}
	})
}

func TestCodeErrorsOnThePage(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, browser := oidctest.NewClient(e), oidctest.NewClient(e)
		browser.SignIn(e.SeedUser("ada@example.com"))
		expired := cli.RequestCode()
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE device_codes SET expires_at = ? WHERE user_code = ?`,
			isotime.From(time.Now().Add(-time.Second)), expired.UserCode); err != nil {
			t.Fatal(err)
		}
		used := cli.RequestCode()
		if res := browser.Answer(used.UserCode, true); res.Status != 200 {
			t.Fatalf("approve: %d", res.Status)
		}
		for _, tt := range []struct {
			name, code string
			status     int
			text       string
		}{
			{"malformed", "hello", 404, "Code invalide"},
			{"unknown", "BCDF-GHJK", 404, "Code invalide"},
			{"expired", expired.UserCode, 410, "a expiré"},
			{"already approved", used.UserCode, 410, "déjà été utilisé"},
		} {
			res := browser.OpenActivate(tt.code)
			if res.Status != tt.status || !strings.Contains(string(res.Body), tt.text) {
				t.Errorf("%s: %d %s", tt.name, res.Status, res.Body)
			}
		}
		// The code is escaped in the page.
		if res := browser.OpenActivate(`"><script>`); strings.Contains(string(res.Body), "<script>") {
			t.Fatal("user input rendered unescaped")
		}
	})
}

func TestApprovalRateLimitPerIP(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		browser := oidctest.NewClient(e)
		browser.SignIn(e.SeedUser("ada@example.com"))
		for i := range 5 {
			if res := browser.Do("POST", "/activate/deny", oidctest.Form("user_code", "BCDFGHJK", "_csrf", "x")); res.Status == 429 {
				t.Fatalf("request %d limited", i+1)
			}
		}
		res := browser.Do("POST", "/activate/approve", oidctest.Form("user_code", "BCDFGHJK", "_csrf", "x"))
		if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(res.Body), "Trop de tentatives") {
			t.Fatalf("6th answer in 15 minutes: %d %s", res.Status, res.Body)
		}
		browser.IP = oidctest.FreshIP()
		if res := browser.Do("POST", "/activate/approve", oidctest.Form("user_code", "BCDFGHJK", "_csrf", "x")); res.Status == 429 {
			t.Fatal("another IP limited")
		}
	})
}

func TestFailedAttemptsLockTheCode(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, attacker, owner := oidctest.NewClient(e), oidctest.NewClient(e), oidctest.NewClient(e)
		attacker.SignIn(e.SeedUser("mallory@example.com"))
		owner.SignIn(e.SeedUser("ada@example.com"))
		dc := cli.RequestCode()
		for i := range 5 {
			attacker.IP = oidctest.FreshIP() // past the per-IP limits: the per-code lockout still holds
			if res := attacker.Do("POST", "/activate/approve", oidctest.Form("user_code", dc.UserCode, "_csrf", "guess")); res.Status != 403 {
				t.Fatalf("attempt %d: %d", i+1, res.Status)
			}
		}
		if res := owner.OpenActivate(dc.UserCode); res.Status != 410 || !strings.Contains(string(res.Body), "Trop de tentatives") {
			t.Fatalf("locked code page: %d %s", res.Status, res.Body)
		}
		if tok := cli.Poll(dc); tok.Status != 400 || tok.Error != "access_denied" {
			t.Fatalf("poll of a locked code: %+v", tok)
		}
	})
}

func TestRealmGuard(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		cli, browser := oidctest.NewClient(e), oidctest.NewClient(e)
		uid := e.SeedUser("eu@example.com")
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE users SET realm = 'end_user:app_x' WHERE id = ?`, uid); err != nil {
			t.Fatal(err)
		}
		browser.SignIn(uid)
		dc := cli.RequestCode()
		res := browser.Answer(dc.UserCode, true)
		if res.Status != 403 || !strings.Contains(string(res.Body), "ne peut pas autoriser") {
			t.Fatalf("end-user approves a CLI: %d %s", res.Status, res.Body)
		}
		if tok := cli.Poll(dc); tok.Error != "authorization_pending" {
			t.Fatalf("poll: %+v", tok)
		}
	})
}

func TestLoginForm(t *testing.T) {
	apptest.Run(t, oidctest.Env(), func(t *testing.T, e *apptest.Env) {
		const password = "correct horse battery staple"
		signup := oidctest.NewClient(e)
		if res := signup.Do("POST", "/api/auth/sign-up/email", map[string]string{"email": "ada@example.com", "password": password, "name": "Ada"}); res.Status != 200 {
			t.Fatalf("sign up: %d %s", res.Status, res.Body)
		}
		// form loads the sign-in form for returnTo and returns the CSRF cookie and field.
		form := func(c *oidctest.Client, returnTo string) (cookie, token, shown string) {
			res := c.Do("GET", "/auth/login?returnTo="+url.QueryEscape(returnTo), nil)
			if res.Status != 200 || !strings.Contains(string(res.Body), "Se connecter") {
				t.Fatalf("login form: %d %s", res.Status, res.Body)
			}
			for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
				if ck.Name == "appstrate.login_csrf" {
					cookie = ck.Name + "=" + ck.Value
				}
			}
			shown = string(res.Body)
			return cookie, oidctest.CSRF(t, res.Body), shown
		}
		tests := []struct {
			name, returnTo, password string
			withCookie               bool
			status                   int
			location                 string
		}{
			{"signs in and goes back", "/activate?user_code=BCDFGHJK", password, true, 303, "/activate?user_code=BCDFGHJK"},
			{"wrong password", "/activate", "nope-nope-nope", true, 401, ""},
			{"no CSRF cookie", "/activate", password, false, 403, ""},
			{"absolute returnTo", "https://evil.example/x", password, true, 303, "/activate"},
			{"protocol-relative returnTo", "//evil.example/x", password, true, 303, "/activate"},
			{"backslash returnTo", "/\\evil.example", password, true, 303, "/activate"},
		}
		for _, tt := range tests {
			c := oidctest.NewClient(e)
			cookie, token, _ := form(c, tt.returnTo)
			var kv []string
			if tt.withCookie {
				kv = []string{"Cookie", cookie}
			}
			res := c.Do("POST", "/auth/login", oidctest.Form("email", "ada@example.com", "password", tt.password,
				"returnTo", tt.returnTo, "_csrf", token), kv...)
			if res.Status != tt.status || res.Header.Get("Location") != tt.location {
				t.Errorf("%s: %d Location=%q, want %d %q", tt.name, res.Status, res.Header.Get("Location"), tt.status, tt.location)
				continue
			}
			if tt.status == 303 {
				signedIn := false
				for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
					if strings.HasSuffix(ck.Name, "better-auth.session_token") && ck.Value != "" {
						signedIn = true
						c.Cookie = ck.Name + "=" + ck.Value
					}
				}
				if !signedIn {
					t.Errorf("%s: no session cookie", tt.name)
				}
				// Signed in: the form sends the browser straight back.
				if res := c.Do("GET", "/auth/login?returnTo=%2Factivate", nil); res.Status != 302 || res.Header.Get("Location") != "/activate" {
					t.Errorf("%s: signed-in login form: %d %q", tt.name, res.Status, res.Header.Get("Location"))
				}
			}
		}
		// Better Auth's sign-in limit: 3 per 10 s per IP.
		c := oidctest.NewClient(e)
		cookie, token, _ := form(c, "/activate")
		last := 0
		for range 4 {
			last = c.Do("POST", "/auth/login", oidctest.Form("email", "ada@example.com", "password", "wrong-wrong",
				"_csrf", token), "Cookie", cookie).Status
		}
		if last != 429 {
			t.Fatalf("4th sign-in in 10 s: %d", last)
		}
	})
}
