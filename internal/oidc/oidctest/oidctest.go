// Package oidctest drives the CLI device flow over HTTP in scenario tests: a CLI that asks for a code and
// polls, and a browser that signs in and approves on the /activate pages.
package oidctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

// Env trusts one proxy hop so each client can pick its IP (the endpoints are rate limited per IP).
func Env(extra ...string) map[string]string {
	env := map[string]string{"TRUST_PROXY": "1"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

var ipCounter atomic.Int64

// FreshIP returns a client address (a header value only) no other client of the test binary used.
func FreshIP() string {
	n := ipCounter.Add(1)
	return fmt.Sprintf("198.%d.%d.%d", 18+(n>>16)&1, (n>>8)&255, n&255)
}

// Form encodes name/value pairs.
func Form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// Client is one caller with its own IP and session cookie.
type Client struct {
	E      *apptest.Env
	IP     string
	Cookie string // "name=value" of the session cookie ("" signed out)
}

// NewClient returns a client with a fresh IP and no cookie.
func NewClient(e *apptest.Env) *Client { return &Client{E: e, IP: FreshIP()} }

// Do sends a request; kv are extra headers. A string body is sent form-urlencoded unless a Content-Type is given.
func (c *Client) Do(method, path string, body any, kv ...string) *apptest.Response {
	c.E.T.Helper()
	h := apptest.Headers(kv...)
	h.Set("X-Forwarded-For", c.IP)
	if c.Cookie != "" {
		if prev := h.Get("Cookie"); prev != "" {
			h.Set("Cookie", prev+"; "+c.Cookie)
		} else {
			h.Set("Cookie", c.Cookie)
		}
	}
	if _, isString := body.(string); isString && h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/x-www-form-urlencoded") // apptest would send JSON
	}
	return c.E.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: h})
}

// SignIn opens a session for userID directly through the accounts service and keeps its cookie.
func (c *Client) SignIn(userID string) {
	c.E.T.Helper()
	s, err := c.E.App.Accounts.StartSession(context.Background(), userID, c.IP, "oidctest")
	if err != nil {
		c.E.T.Fatalf("start session: %v", err)
	}
	ck := c.E.App.Accounts.SessionCookie(s)
	c.Cookie = ck.Name + "=" + ck.Value
}

// DeviceCode is the JSON answer of POST /api/auth/device/code.
type DeviceCode struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// RequestCode asks for a device code as the CLI does (form body).
func (c *Client) RequestCode() DeviceCode {
	c.E.T.Helper()
	res := c.Do("POST", "/api/auth/device/code", Form("client_id", "appstrate-cli", "scope", "openid profile email offline_access"))
	if res.Status != http.StatusOK {
		c.E.T.Fatalf("device code: %d %s", res.Status, res.Body)
	}
	var dc DeviceCode
	res.JSON(c.E.T, &dc)
	return dc
}

// Tokens is a token endpoint answer (success or RFC 6749 error).
type Tokens struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	RefreshExpiresIn int    `json:"refresh_expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Status           int    `json:"-"`
}

// Token posts a form to /api/auth/cli/token; kv are extra headers.
func (c *Client) Token(form string, kv ...string) Tokens {
	c.E.T.Helper()
	res := c.Do("POST", "/api/auth/cli/token", form, kv...)
	var t Tokens
	res.JSON(c.E.T, &t)
	t.Status = res.Status
	if res.Status == http.StatusOK && res.Header.Get("Cache-Control") != "no-store" {
		c.E.T.Fatalf("token response Cache-Control = %q", res.Header.Get("Cache-Control"))
	}
	return t
}

// Poll polls once with the device code, skipping the polling interval (the test does not wait).
func (c *Client) Poll(dc DeviceCode, kv ...string) Tokens {
	c.E.T.Helper()
	AllowPoll(c.E, dc.UserCode)
	return c.Token(Form("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", dc.DeviceCode,
		"client_id", "appstrate-cli"), kv...)
}

// Refresh uses a refresh token.
func (c *Client) Refresh(refreshToken string) Tokens {
	c.E.T.Helper()
	return c.Token(Form("grant_type", "refresh_token", "refresh_token", refreshToken, "client_id", "appstrate-cli"))
}

// AllowPoll forgets the last poll time of a user code, so the next poll is not slow_down.
func AllowPoll(e *apptest.Env, userCode string) {
	e.T.Helper()
	if _, err := e.DB.ExecContext(context.Background(), `UPDATE device_codes SET last_polled_at = NULL WHERE user_code = ?`, userCode); err != nil {
		e.T.Fatal(err)
	}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// CSRF extracts the _csrf value of a rendered form.
func CSRF(t testing.TB, html []byte) string {
	t.Helper()
	m := csrfField.FindSubmatch(html)
	if m == nil {
		t.Fatalf("no _csrf field in %s", html)
	}
	return string(m[1])
}

// OpenActivate loads /activate?user_code= in the browser and returns the page.
func (c *Client) OpenActivate(userCode string) *apptest.Response {
	c.E.T.Helper()
	return c.Do("GET", "/activate?user_code="+url.QueryEscape(userCode), nil)
}

// Answer approves (or denies) a code the way the page does: load it, then post the form with its token.
func (c *Client) Answer(userCode string, approve bool) *apptest.Response {
	c.E.T.Helper()
	page := c.OpenActivate(userCode)
	if page.Status != http.StatusOK {
		c.E.T.Fatalf("activate page: %d %s", page.Status, page.Body)
	}
	action := "/activate/deny"
	if approve {
		action = "/activate/approve"
	}
	return c.Do("POST", action, Form("user_code", userCode, "_csrf", CSRF(c.E.T, page.Body)))
}

// Login runs the whole device flow for a signed-in browser and returns the tokens.
func Login(t testing.TB, cli, browser *Client, deviceName string) Tokens {
	t.Helper()
	dc := cli.RequestCode()
	if res := browser.Answer(dc.UserCode, true); res.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	tok := cli.Poll(dc, "X-Appstrate-Device-Name", deviceName, "User-Agent", "appstrate-cli/test")
	if tok.Status != http.StatusOK {
		t.Fatalf("token: %d %+v", tok.Status, tok)
	}
	return tok
}

// Claims decodes the payload of a JWT without verifying it (as the CLI does).
func Claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Bearer returns the headers of a CLI call: the JWT and the org/app pins ("" omits them).
func Bearer(jwt, orgID, appID string) []string {
	kv := []string{"Authorization", "Bearer " + jwt}
	if orgID != "" {
		kv = append(kv, "X-Org-Id", orgID)
	}
	if appID != "" {
		kv = append(kv, "X-Application-Id", appID)
	}
	return kv
}
