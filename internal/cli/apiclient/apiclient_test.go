package apiclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/cli/profile"
)

// fakeAuth is a small implementation of the §2.3 wire format: scripted answers for the device grant, and
// refresh rotation with reuse detection.
type fakeAuth struct {
	mu        sync.Mutex
	polls     []string // scripted device-grant answers: error codes, or "ok"
	pollCount int
	refreshes int
	live      map[string]bool // refresh tokens that can still be used
	used      map[string]bool
	access    map[string]bool // valid access tokens
	n         int
	verURI    string // verification_uri override
	noRefresh bool
}

func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

func (f *fakeAuth) issue(w http.ResponseWriter) {
	f.n++
	at := jwt(map[string]any{"sub": "usr_1", "email": "a@example.com", "n": f.n})
	rt := fmt.Sprintf("rt_%d", f.n)
	f.live[rt], f.access[at] = true, true
	body := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 900, "refresh_expires_in": 2592000, "scope": Scope}
	if !f.noRefresh {
		body["refresh_token"] = rt
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func oauthErr(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(400)
	fmt.Fprintf(w, `{"error":%q,"error_description":"desc of %s"}`, code, code)
}

func (f *fakeAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	switch r.URL.Path {
	case "/api/auth/device/code":
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.PostForm.Get("client_id") != ClientID ||
			r.PostForm.Get("scope") != Scope {
			oauthErr(w, "invalid_client")
			return
		}
		ver := f.verURI
		if ver == "" {
			ver = "http://" + r.Host + "/activate"
		}
		fmt.Fprintf(w, `{"device_code":"dc","user_code":"BCDFGHJK","verification_uri":%q,"verification_uri_complete":%q,"expires_in":600,"interval":1}`,
			ver, ver+"?user_code=BCDFGHJK")
	case "/api/auth/cli/token":
		switch r.PostForm.Get("grant_type") {
		case "urn:ietf:params:oauth:grant-type:device_code":
			ans := "authorization_pending"
			if f.pollCount < len(f.polls) {
				ans = f.polls[f.pollCount]
			}
			f.pollCount++
			if ans == "ok" {
				f.issue(w)
				return
			}
			oauthErr(w, ans)
		case "refresh_token":
			f.refreshes++
			rt := r.PostForm.Get("refresh_token")
			if f.used[rt] { // reuse: the whole family goes
				f.live, f.access = map[string]bool{}, map[string]bool{}
				oauthErr(w, "invalid_grant")
				return
			}
			if !f.live[rt] {
				oauthErr(w, "invalid_grant")
				return
			}
			f.used[rt], f.live[rt] = true, false
			f.issue(w)
		}
	case "/api/thing":
		if !f.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","data":[{"org":%q,"app":%q}],"hasMore":false}`, r.Header.Get("X-Org-Id"), r.Header.Get("X-Application-Id"))
	case "/api/problem":
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(404)
		fmt.Fprint(w, `{"type":"x","title":"Not Found","status":404,"detail":"Application not found","code":"not_found"}`)
	default:
		w.WriteHeader(404)
	}
}

func newFake(t *testing.T) (*fakeAuth, *httptest.Server) {
	f := &fakeAuth{live: map[string]bool{}, used: map[string]bool{}, access: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// fakeClock records the sleeps and advances with them.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func TestDeviceFlowPolling(t *testing.T) {
	tests := []struct {
		name       string
		polls      []string
		wantSleeps string
		wantErr    string
	}{
		{"pending, slow_down, then success: polls at 1 s, 2 s and 8 s", []string{"authorization_pending", "slow_down", "ok"}, "[1s 1s 6s]", ""},
		{"access_denied is terminal", []string{"authorization_pending", "access_denied"}, "[1s 1s]", "The request was refused. Run the command again if this was a mistake. (access_denied)"},
		{"expired_token", []string{"expired_token"}, "[1s]", "The code expired before you approved it. Run the command again to get a new one. (expired_token)"},
		{"invalid_grant", []string{"invalid_grant"}, "[1s]", "The authorization server rejected the device code. Run the command again. (invalid_grant)"},
		{"invalid_client", []string{"invalid_client"}, "[1s]", "This CLI is not registered on the target instance. The platform may be running an incompatible version. (invalid_client)"},
		{"unknown codes show the description", []string{"server_error"}, "[1s]", "desc of server_error (server_error)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t)
			f.polls = tt.polls
			a := &Auth{Instance: srv.URL, HTTP: srv.Client(), UserAgent: "appstrate-cli/test"}
			dc, err := a.RequestDeviceCode(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if dc.DisplayCode() != "BCDF-GHJK" {
				t.Fatal(dc.DisplayCode())
			}
			clock := &fakeClock{now: time.Unix(0, 0)}
			tr, err := a.PollToken(context.Background(), dc, PollOptions{DeviceName: "laptop", Clock: clock})
			if fmt.Sprint(clock.sleeps) != tt.wantSleeps {
				t.Fatalf("sleeps %v, want %s", clock.sleeps, tt.wantSleeps)
			}
			if tt.wantErr == "" {
				if err != nil || tr.RefreshToken == "" {
					t.Fatalf("%+v %v", tr, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeviceFlowDeadlineAndResponseChecks(t *testing.T) {
	f, srv := newFake(t)
	a := &Auth{Instance: srv.URL, HTTP: srv.Client()}
	dc := &DeviceCode{DeviceCode: "dc", ExpiresIn: 3, Interval: 1}
	clock := &fakeClock{now: time.Unix(0, 0)}
	_, err := a.PollToken(context.Background(), dc, PollOptions{Clock: clock})
	var dfe *DeviceFlowError
	if !errors.As(err, &dfe) || dfe.Code != "expired_token" || f.pollCount != 2 {
		t.Fatalf("%v after %d polls", err, f.pollCount)
	}
	// The window is capped at 15 minutes.
	f.pollCount = 0
	dc = &DeviceCode{DeviceCode: "dc", ExpiresIn: 3600, Interval: 60}
	_, _ = a.PollToken(context.Background(), dc, PollOptions{Clock: &fakeClock{}})
	if f.pollCount != 14 {
		t.Fatalf("polls in 15 min at 60 s: %d", f.pollCount)
	}
	// A token answer without refresh token is fatal.
	f.polls, f.pollCount, f.noRefresh = []string{"ok"}, 0, true
	_, err = a.PollToken(context.Background(), &DeviceCode{DeviceCode: "dc", Interval: 1}, PollOptions{Clock: &fakeClock{}})
	if err == nil || !strings.Contains(err.Error(), "Server did not issue a refresh token") {
		t.Fatal(err)
	}
}

func TestVerificationURIMustBeOnTheInstance(t *testing.T) {
	f, srv := newFake(t)
	u, _ := url.Parse(srv.URL)
	for _, ver := range []string{"http://evil.example/activate", "http://localhost:" + u.Port() + "/activate",
		"javascript:alert(1)", "http://" + u.Hostname() + ":1/activate"} {
		f.verURI = ver
		_, err := (&Auth{Instance: srv.URL, HTTP: srv.Client()}).RequestDeviceCode(context.Background())
		var dfe *DeviceFlowError
		if !errors.As(err, &dfe) || dfe.Code != "invalid_request" || !strings.HasPrefix(err.Error(), "The authorization request was malformed") {
			t.Errorf("%s: %v", ver, err)
		}
	}
	f.verURI = strings.ToUpper(srv.URL[:4]) + srv.URL[4:] + "/activate" // scheme case does not matter
	if _, err := (&Auth{Instance: srv.URL, HTTP: srv.Client()}).RequestDeviceCode(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizeInstance(t *testing.T) {
	tests := []struct {
		in       string
		insecure bool
		want     string
		err      string
	}{
		{" https://app.example.com/ ", false, "https://app.example.com", ""},
		{"http://localhost:3000//", false, "http://localhost:3000/", ""},
		{"http://127.0.0.1:4599", false, "http://127.0.0.1:4599", ""},
		{"http://[::1]:4599", false, "http://[::1]:4599", ""},
		{"http://[::ffff:127.0.0.1]:1", false, "http://[::ffff:127.0.0.1]:1", ""},
		{"http://app.example.com", false, "", "Refusing to send credentials to a non-HTTPS, non-loopback instance: http://app.example.com"},
		{"http://app.example.com", true, "http://app.example.com", ""},
		{"ftp://x", false, "", "Unsupported instance URL protocol: ftp: (expected http:// or https://)."},
		{"not a url", false, "", `Invalid instance URL: "not a url"`},
	}
	for _, tt := range tests {
		got, err := NormalizeInstance(tt.in, tt.insecure)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.HasPrefix(err.Error(), tt.err)) {
			t.Errorf("%q: %q %v", tt.in, got, err)
		}
	}
}

// newClient is a client of profile "p" over the token store in dir.
func newClient(t *testing.T, srv *httptest.Server, dir string) *Client {
	t.Helper()
	store := &profile.Store{Dir: dir}
	return &Client{ProfileName: "p", Profile: profile.Profile{Instance: srv.URL, OrgID: "org_1", ApplicationID: "app_1"},
		Store: store, HTTP: srv.Client(), UserAgent: "appstrate-cli/test"}
}

func seed(t *testing.T, f *fakeAuth, dir string, expiresAt time.Time) profile.Tokens {
	t.Helper()
	f.mu.Lock()
	f.n++
	at, rt := jwt(map[string]any{"seed": f.n}), fmt.Sprintf("seed_rt_%d", f.n)
	f.live[rt], f.access[at] = true, true
	f.mu.Unlock()
	tk := profile.Tokens{AccessToken: at, ExpiresAt: expiresAt.UnixMilli(), RefreshToken: rt, RefreshExpiresAt: time.Now().Add(time.Hour).UnixMilli()}
	if err := (&profile.Store{Dir: dir}).Save("p", tk); err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestClientHeadersAndErrors(t *testing.T) {
	f, srv := newFake(t)
	dir := filepath.Join(t.TempDir(), "cfg")
	seed(t, f, dir, time.Now().Add(time.Hour))
	c := newClient(t, srv, dir)
	var rows []map[string]string
	if err := c.List(context.Background(), "/api/thing", &rows); err != nil || rows[0]["org"] != "org_1" || rows[0]["app"] != "app_1" {
		t.Fatalf("%v %v", rows, err)
	}
	err := c.JSON(context.Background(), "GET", "/api/problem", nil, nil)
	if err == nil || err.Error() != "API error (404): Application not found (not_found)" {
		t.Fatalf("%v", err)
	}
	if f.refreshes != 0 {
		t.Fatal("refreshed a fresh token")
	}
}

func TestClientRefreshes(t *testing.T) {
	t.Run("proactively 30 s before expiry", func(t *testing.T) {
		f, srv := newFake(t)
		dir := filepath.Join(t.TempDir(), "cfg")
		old := seed(t, f, dir, time.Now().Add(20*time.Second))
		c := newClient(t, srv, dir)
		if err := c.JSON(context.Background(), "GET", "/api/thing", nil, nil); err != nil {
			t.Fatal(err)
		}
		got, _ := c.Tokens()
		if f.refreshes != 1 || got.RefreshToken == old.RefreshToken || got.RefreshExpiresAt <= time.Now().Add(29*24*time.Hour).UnixMilli() {
			t.Fatalf("%d refreshes, %+v", f.refreshes, got)
		}
	})
	t.Run("reactively once on a 401", func(t *testing.T) {
		f, srv := newFake(t)
		dir := filepath.Join(t.TempDir(), "cfg")
		old := seed(t, f, dir, time.Now().Add(time.Hour))
		f.mu.Lock()
		delete(f.access, old.AccessToken) // revoked server-side, refresh token still good
		f.mu.Unlock()
		c := newClient(t, srv, dir)
		if err := c.JSON(context.Background(), "GET", "/api/thing", nil, nil); err != nil || f.refreshes != 1 {
			t.Fatalf("%v, %d refreshes", err, f.refreshes)
		}
	})
	t.Run("invalid_grant deletes the tokens", func(t *testing.T) {
		f, srv := newFake(t)
		dir := filepath.Join(t.TempDir(), "cfg")
		old := seed(t, f, dir, time.Now().Add(-time.Minute))
		f.mu.Lock()
		f.live[old.RefreshToken] = false
		f.mu.Unlock()
		c := newClient(t, srv, dir)
		err := c.JSON(context.Background(), "GET", "/api/thing", nil, nil)
		var ae *AuthError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), `Session for profile "p" is no longer valid (invalid_grant)`) {
			t.Fatal(err)
		}
		if got, _ := c.Tokens(); got != nil {
			t.Fatal("tokens kept")
		}
	})
	t.Run("two processes refresh at once: the refresh token is presented once", func(t *testing.T) {
		f, srv := newFake(t)
		dir := filepath.Join(t.TempDir(), "cfg")
		seed(t, f, dir, time.Now().Add(-time.Minute))
		// Separate clients and stores stand for separate processes: only the file lock is shared.
		var wg sync.WaitGroup
		errs := make([]error, 6)
		tokens := make([]string, 6)
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newClient(t, srv, dir)
				tokens[i], errs[i] = c.Token(context.Background())
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil || tokens[i] != tokens[0] {
				t.Fatalf("client %d: %v (%q vs %q)", i, err, tokens[i], tokens[0])
			}
		}
		if f.refreshes != 1 {
			t.Fatalf("%d refreshes: the family would have been revoked", f.refreshes)
		}
	})
}

func TestClaims(t *testing.T) {
	c, err := Claims(jwt(map[string]any{"sub": "u", "exp": 1700000000}))
	if err != nil || c["sub"] != "u" {
		t.Fatal(c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c"} {
		if _, err := Claims(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
