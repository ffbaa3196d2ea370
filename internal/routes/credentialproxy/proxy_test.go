package credentialproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/oidc"
)

const apiKey = "sk_test_proxy_0123456789"

// api is a provider API on 127.0.0.1 that requires X-Api-Key on /data.
type api struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string // X-Api-Key of every request, "-" when absent
	body string   // last request body
}

func newAPI(t *testing.T) *api {
	a := &api{}
	mux := http.NewServeMux()
	mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "tracking=1")
		_, _ = w.Write([]byte(`{"data":1}`))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-Api-Key"))
		_, _ = w.Write([]byte("you sent " + r.Header.Get("X-Api-Key")))
	})
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.body = string(b)
		a.mu.Unlock()
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
	})
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("X-Api-Key")
		if k == "" {
			k = "-"
		}
		a.mu.Lock()
		a.seen = append(a.seen, k)
		a.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) takeSeen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.seen
	a.seen = nil
	return s
}

func (a *api) port() string { u, _ := url.Parse(a.srv.URL); return u.Port() }

// names is the resolver hook: no DNS, fixed answers.
type names map[string]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := n[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return nil, errors.New("no such host")
}

type fixture struct {
	e            *apptest.Env
	api, outside *api
	org, app     string
	owner        string
	key          string
}

func setup(t *testing.T, e *apptest.Env) *fixture {
	t.Helper()
	f := &fixture{e: e, api: newAPI(t), outside: newAPI(t)}
	// Loopback is allowed explicitly for the test servers; names resolve through the hook.
	e.App.Connections.Net = netguard.Policy{AllowLoopback: true,
		Resolver: names{"api.test": "127.0.0.1", "internal.test": "10.1.2.3", "meta.test": "169.254.169.254"}}
	f.owner = e.SeedUser("owner@acme.test")
	f.org, f.app = e.SeedOrg(f.owner, "acme")
	as := apptest.As(f.owner, f.org, f.app)
	p := f.api.port()
	body := map[string]any{"id": "@acme/api", "displayName": "API", "authMode": "api_key", "credentialHeaderName": "X-Api-Key",
		"authorizedUris": []string{f.api.srv.URL + "/**", "http://api.test:" + p + "/**", "http://internal.test:" + p + "/**",
			"http://169.254.169.254/**"}}
	if r := e.Do(apptest.Request{Method: "POST", Path: "/api/providers", Body: body, Headers: as}); r.Status != 201 {
		t.Fatalf("create provider: %d %s", r.Status, r.Body)
	}
	if r := e.Do(apptest.Request{Method: "POST", Path: "/api/connections/connect/@acme/api/api-key", Headers: as,
		Body: map[string]any{"apiKey": apiKey}}); r.Status != 200 {
		t.Fatalf("connect: %d %s", r.Status, r.Body)
	}
	f.key = f.newKey(t, f.owner, auth.RoleOwner)
	return f
}

func (f *fixture) newKey(t *testing.T, user string, role auth.Role) string {
	k, err := f.e.App.APIKeys.Create(context.Background(), auth.NewAPIKey{OrgID: f.org, ApplicationID: f.app, CreatedBy: user,
		CreatorRole: role, Name: "k"}, audit.Event{OrgID: f.org, ApplicationID: f.app, ActorType: audit.ActorUser, ActorID: user})
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

func (f *fixture) proxy(method, target string, body any, extra ...string) *apptest.Response {
	h := apptest.Headers(append([]string{"Authorization", "Bearer " + f.key, "X-Provider", "@acme/api", "X-Target", target}, extra...)...)
	return f.e.Do(apptest.Request{Method: method, Path: "/api/credential-proxy/proxy", Body: body, Headers: h})
}

func TestCredentialProxyAuthorizedURIsAndSSRF(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		base, named := f.api.srv.URL, "http://api.test:"+f.api.port()
		tests := []struct {
			name        string
			target      string
			status      int
			detail      string // problem detail fragment (proxy refusals)
			body        string // relayed body fragment
			apiSeen     []string
			outsideSeen []string
		}{
			{name: "authorized target", target: base + "/data", status: 200, body: `{"data":1}`, apiSeen: []string{apiKey}},
			{name: "authorized name resolving to loopback", target: named + "/data", status: 200, apiSeen: []string{apiKey}},
			{name: "target outside authorizedUris", target: f.outside.srv.URL + "/data", status: 403, detail: "not authorized"},
			{name: "name resolving to a private address", target: "http://internal.test:" + f.api.port() + "/data", status: 403, detail: "private"},
			{name: "metadata address", target: "http://169.254.169.254/latest/meta-data", status: 403, detail: "Blocked"},
			{name: "userinfo in the target", target: "http://user:pw@127.0.0.1:" + f.api.port() + "/data", status: 400},
			{name: "redirect within the origin keeps the credential", target: base + "/redirect?to=/data", status: 200,
				apiSeen: []string{apiKey, apiKey}},
			{name: "redirect to a metadata address", target: base + "/redirect?to=" + url.QueryEscape("http://169.254.169.254/x"),
				status: 403, detail: "Redirect blocked (ssrf)", apiSeen: []string{apiKey}},
			{name: "redirect to a name resolving to a private address",
				target: base + "/redirect?to=" + url.QueryEscape("http://internal.test:"+f.api.port()+"/data"), status: 403, detail: "private",
				apiSeen: []string{apiKey}},
			{name: "redirect outside authorizedUris", target: base + "/redirect?to=" + url.QueryEscape(f.outside.srv.URL+"/data"),
				status: 403, detail: "Redirect blocked (unauthorized)", apiSeen: []string{apiKey}},
			{name: "cross-origin redirect drops the credential", target: base + "/redirect?to=" + url.QueryEscape(named+"/data"),
				status: 401, apiSeen: []string{apiKey, "-"}},
			{name: "unresolved placeholder", target: base + "/data?x={{nope}}", status: 400, detail: "nope"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := f.proxy("GET", tt.target, nil)
				if r.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
				}
				if tt.detail != "" {
					if p := r.Problem(t); !strings.Contains(p.Detail, tt.detail) {
						t.Fatalf("detail %q lacks %q", p.Detail, tt.detail)
					}
				}
				if tt.body != "" && !strings.Contains(string(r.Body), tt.body) {
					t.Fatalf("body %s", r.Body)
				}
				if got := f.api.takeSeen(); strings.Join(got, ",") != strings.Join(tt.apiSeen, ",") {
					t.Fatalf("provider API saw %v, want %v", got, tt.apiSeen)
				}
				if got := f.outside.takeSeen(); len(got) != 0 {
					t.Fatalf("the unauthorized server was reached: %v", got)
				}
				if strings.Contains(string(r.Body), apiKey) || r.Header.Get("Set-Cookie") != "" {
					t.Fatalf("leak: %v %s", r.Header, r.Body)
				}
			})
		}
	})
}

func TestCredentialProxyRelay(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		base := f.api.srv.URL

		// Echoes of the credential are redacted, in the body and in headers.
		r := f.proxy("GET", base+"/echo", nil)
		if r.Status != 200 || string(r.Body) != "you sent [REDACTED]" || r.Header.Get("X-Echo") != "[REDACTED]" {
			t.Fatalf("echo: %d %v %s", r.Status, r.Header, r.Body)
		}
		// Body placeholders only with X-Substitute-Body.
		f.proxy("POST", base+"/post", `{"k":"{{api_key}}"}`)
		if f.api.body != `{"k":"{{api_key}}"}` {
			t.Fatalf("substituted without the flag: %s", f.api.body)
		}
		r = f.proxy("POST", base+"/post", `{"k":"{{api_key}}"}`, "X-Substitute-Body", "true")
		if f.api.body != `{"k":"`+apiKey+`"}` || string(r.Body) != `{"k":"[REDACTED]"}` {
			t.Fatalf("substitution: sent %s, relayed %s", f.api.body, r.Body)
		}
		// Caps: buffered and streamed.
		e.App.CredProxy.MaxResponseBytes, e.App.CredProxy.MaxStreamBytes = 1000, 2000
		r = f.proxy("GET", base+"/big", nil)
		if r.Status != 200 || len(r.Body) != 1000 || r.Header.Get("X-Truncated") != "true" {
			t.Fatalf("buffered cap: %d bytes, %v", len(r.Body), r.Header)
		}
		r = f.proxy("GET", base+"/big", nil, "X-Stream-Response", "true")
		if r.Status != 200 || len(r.Body) != 2000 || r.Header.Get("X-Truncated") != "true" {
			t.Fatalf("streamed cap: %d bytes, %v", len(r.Body), r.Header)
		}
		r = f.proxy("GET", base+"/data", nil)
		if r.Header.Get("X-Truncated") != "" {
			t.Fatalf("small answer truncated: %v", r.Header)
		}
		// Streamed request body.
		r = f.proxy("PUT", base+"/post", "streamed body", "X-Stream-Request", "true")
		if r.Status != 200 || f.api.body != "streamed body" {
			t.Fatalf("streamed request: %d %q", r.Status, f.api.body)
		}
		if p := f.proxy("PUT", base+"/post", "x", "X-Stream-Request", "true", "X-Substitute-Body", "true"); p.Status != 400 {
			t.Fatalf("stream+substitute: %d", p.Status)
		}

		// Usage is recorded per call, with the host only.
		var n int
		var host string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT count(*), max(target_host) FROM credential_proxy_usage
			WHERE org_id = ? AND provider_id = ?`, f.org, "@acme/api").Scan(&n, &host); err != nil || n < 5 || host != "127.0.0.1" {
			t.Fatalf("usage: %d rows, host %q (%v)", n, host, err)
		}
	})
}

// ownerJWT runs the CLI device flow through the OIDC service and returns the user's access JWT.
func ownerJWT(t *testing.T, e *apptest.Env, userID string) string {
	t.Helper()
	ctx := context.Background()
	if err := e.App.OIDC.Startup(ctx); err != nil {
		t.Fatal(err)
	}
	da, err := e.App.OIDC.RequestDeviceCode(ctx, "appstrate-cli", "openid profile email offline_access")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.App.OIDC.ApproveDevice(ctx, da.UserCode, oidc.Approver{UserID: userID, Realm: "platform"}); err != nil {
		t.Fatal(err)
	}
	ts, err := e.App.OIDC.ExchangeDeviceCode(ctx, "appstrate-cli", da.DeviceCode, oidc.ClientInfo{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return ts.AccessToken
}

func TestCredentialProxyCallers(t *testing.T) {
	apptest.Run(t, map[string]string{"CREDENTIAL_PROXY_LIMITS": `{"rate_per_min":4}`}, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		member := e.SeedUser("member@acme.test")
		e.SeedMember(f.org, member, "member")
		memberKey := f.newKey(t, member, auth.RoleMember)
		target := f.api.srv.URL + "/data"
		if r := e.Do(apptest.Request{Method: "POST", Path: "/api/providers", Headers: apptest.As(f.owner, f.org, f.app),
			Body: map[string]any{"id": "@acme/unconnected", "displayName": "U", "authMode": "api_key",
				"authorizedUris": []string{f.api.srv.URL + "/**"}}}); r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		jwt := ownerJWT(t, e, f.owner)
		tests := []struct {
			name   string
			h      http.Header
			status int
			code   string
		}{
			{"CLI access token", apptest.Headers("Authorization", "Bearer "+jwt, "X-Org-Id", f.org, "X-Application-Id", f.app,
				"X-Provider", "@acme/api", "X-Target", target), 200, ""},
			{"cookie session", apptest.Headers("X-Provider", "@acme/api", "X-Target", target, "X-Test-User", f.owner,
				"X-Org-Id", f.org, "X-Application-Id", f.app), 403, "forbidden"},
			{"API key without credential-proxy:call", apptest.Headers("Authorization", "Bearer "+memberKey, "X-Provider", "@acme/api",
				"X-Target", target), 403, "forbidden"},
			{"missing X-Target", apptest.Headers("Authorization", "Bearer "+f.key, "X-Provider", "@acme/api"), 400, "validation_failed"},
			{"unknown provider", apptest.Headers("Authorization", "Bearer "+f.key, "X-Provider", "@acme/nope", "X-Target", target), 404, "not_found"},
			{"no connection on the profile", apptest.Headers("Authorization", "Bearer "+f.key, "X-Provider", "@acme/unconnected",
				"X-Target", target), 404, "not_found"},
			{"no authentication", apptest.Headers("X-Provider", "@acme/api", "X-Target", target), 401, "unauthorized"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.Do(apptest.Request{Method: "GET", Path: "/api/credential-proxy/proxy", Headers: tt.h})
				if r.Status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
				}
				if tt.code == "" {
					return
				}
				if p := r.Problem(t); p.Code != tt.code {
					t.Fatalf("code %s, want %s", p.Code, tt.code)
				}
			})
		}
		// CREDENTIAL_PROXY_LIMITS.rate_per_min per caller: some of the calls above already used the budget.
		var last *apptest.Response
		for i := 0; i < 6; i++ {
			last = f.proxy("GET", target, nil)
			if last.Status == http.StatusTooManyRequests {
				break
			}
			if last.Status != 200 {
				t.Fatalf("call %d: %d %s", i, last.Status, last.Body)
			}
			if last.Header.Get("RateLimit-Policy") != "4;w=60" {
				t.Fatalf("RateLimit-Policy %q", last.Header.Get("RateLimit-Policy"))
			}
		}
		if last.Status != http.StatusTooManyRequests || last.Problem(t).Code != "rate_limited" {
			t.Fatalf("no rate limit: %d %s", last.Status, last.Body)
		}
	})
}
