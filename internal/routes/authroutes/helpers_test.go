package authroutes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

const (
	appOrigin = "http://localhost:3000" // the default APP_URL of the test configuration
	password  = "s3cret-Passw0rd"
)

// baseEnv trusts one proxy hop so each scenario can pick its client IP (Better Auth rate limits are per IP).
func baseEnv(extra ...string) map[string]string {
	env := map[string]string{"TRUST_PROXY": "1"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

var ipCounter atomic.Int64

// freshIP returns a client address no other request of the test binary used.
func freshIP() string {
	n := ipCounter.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", (n>>16)&255, (n>>8)&255, n&255)
}

// client is a caller with its own IP and cookie jar (the session cookie only).
type client struct {
	e      *apptest.Env
	ip     string
	cookie string // "name=value" of the session cookie, "" when signed out
}

func newClient(e *apptest.Env) *client { return &client{e: e, ip: freshIP()} }

// do sends a request from this client; POSTs carrying the cookie send the app's Origin like a browser.
func (c *client) do(method, path string, body any, kv ...string) *apptest.Response {
	c.e.T.Helper()
	h := apptest.Headers(kv...)
	h.Set("X-Forwarded-For", c.ip)
	h.Set("User-Agent", "authroutes-test/1.0")
	if c.cookie != "" && h.Get("Cookie") == "" {
		h.Set("Cookie", c.cookie)
		if method != http.MethodGet && h.Get("Origin") == "" {
			h.Set("Origin", appOrigin)
		}
	}
	res := c.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: h})
	for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
		if strings.HasSuffix(ck.Name, "better-auth.session_token") {
			if ck.MaxAge < 0 || ck.Value == "" {
				c.cookie = ""
			} else {
				c.cookie = ck.Name + "=" + ck.Value
			}
		}
	}
	return res
}

type user struct {
	ID            string  `json:"id"`
	Email         string  `json:"email"`
	Name          string  `json:"name"`
	Image         *string `json:"image"`
	EmailVerified bool    `json:"emailVerified"`
	CreatedAt     string  `json:"createdAt"`
	UpdatedAt     string  `json:"updatedAt"`
}

type session struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	UserID    string `json:"userId"`
	ExpiresAt string `json:"expiresAt"`
	IPAddress string `json:"ipAddress"`
	UserAgent string `json:"userAgent"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

type sessionBody struct {
	Session *session `json:"session"`
	User    *user    `json:"user"`
}

type baErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// expectError checks a Better Auth error response.
func expectError(t *testing.T, res *apptest.Response, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json (not problem+json)", ct)
	}
	var e baErr
	if err := json.Unmarshal(res.Body, &e); err != nil || e.Code != code || e.Message == "" {
		t.Fatalf("body %s, want code %s", res.Body, code)
	}
}

func expectStatus(t *testing.T, res *apptest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

// signUp creates a user through the API and returns it (the client is signed in unless verification is on).
func (c *client) signUp(t *testing.T, email string) user {
	t.Helper()
	res := c.do("POST", "/api/auth/sign-up/email", map[string]any{"email": email, "password": password, "name": "Test " + email})
	expectStatus(t, res, 200)
	var out struct {
		User user `json:"user"`
	}
	res.JSON(t, &out)
	return out.User
}

func (c *client) signIn(t *testing.T, email, pw string) *apptest.Response {
	t.Helper()
	return c.do("POST", "/api/auth/sign-in/email", map[string]any{"email": email, "password": pw})
}

func (c *client) getSession(t *testing.T) *sessionBody {
	t.Helper()
	res := c.do("GET", "/api/auth/get-session", nil)
	expectStatus(t, res, 200)
	if strings.TrimSpace(string(res.Body)) == "null" {
		return nil
	}
	var out sessionBody
	res.JSON(t, &out)
	return &out
}
