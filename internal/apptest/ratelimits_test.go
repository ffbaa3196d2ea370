package apptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

// budget is what a route's limit is keyed on (API.md §3.5).
type budget int

const (
	perUser     budget = iota // METHOD:path:<user id> — a session
	perAPIKey                 // METHOD:path:apikey:<id>
	perIP                     // the client address, for public routes
	perRunToken               // the bearer run token of /internal/*
	perRun                    // the run id of the sink routes
)

// limitedRoute is one row of the inventory: a route and its limit.
type limitedRoute struct {
	method, path string // {org}, {app} and {run} are filled in per caller
	limit        int
	window       time.Duration
	key          budget
	format       string // body of the 429: "" problem+json, "ba" Better Auth JSON, "html" a page
	// shares names another "METHOD path" of the same budget: refused too once this one is exhausted.
	shares string
	// pending is why the route does not exist yet. The row then checks that it is really absent: whoever
	// adds the route must give it its limit and drop this field.
	pending string
}

// TestRateLimitInventory walks every rate-limited route (the RL n of the route inventory of API.md §4, the
// per-IP and per-token limits of §2.2, §2.3, §4.13, §4.17, §4.18, and the limits this platform adds): each
// of the first n calls of one caller carries `RateLimit: limit=n, remaining=…, reset=…` and
// `RateLimit-Policy: n;w=W`, the next is a 429 with Retry-After (and retryAfter in the problem), another
// caller — user, API key, IP, token or run as the spec keys it — still has its whole budget, and the
// window's end restores the first caller's. The limiter's clock is frozen, so nothing depends on timing.
func TestRateLimitInventory(t *testing.T) {
	const minute = time.Minute
	routes := []limitedRoute{
		// §4.1 organizations: CLI sessions of the members.
		{method: "GET", path: "/api/orgs/{org}/cli-sessions", limit: 120, window: minute, key: perUser},
		{method: "DELETE", path: "/api/orgs/{org}/cli-sessions/" + ids.New(ids.CLIRefresh), limit: 30, window: minute, key: perUser},
		// §2.2, §4.18 Better Auth and bootstrap.
		{method: "POST", path: "/api/auth/sign-in/email", limit: 3, window: 10 * time.Second, key: perIP, format: "ba"},
		{method: "POST", path: "/api/auth/sign-up/email", limit: 3, window: 10 * time.Second, key: perIP, format: "ba"},
		{method: "POST", path: "/api/auth/bootstrap/redeem", limit: 5, window: minute, key: perIP},
		// §2.3 device flow and its approval pages.
		{method: "POST", path: "/api/auth/device/code", limit: 10, window: minute, key: perIP},
		{method: "POST", path: "/api/auth/cli/token", limit: 30, window: minute, key: perIP},
		{method: "POST", path: "/activate/approve", limit: 5, window: 15 * minute, key: perIP, format: "html", shares: "POST /activate/deny"},
		{method: "POST", path: "/activate/deny", limit: 5, window: 15 * minute, key: perIP, format: "html", shares: "POST /activate/approve"},
		{method: "POST", path: "/auth/login", limit: 3, window: 10 * time.Second, key: perIP, format: "html"},
		// Invitation pages (public; one budget per IP for both).
		{method: "GET", path: "/invite/" + strings.Repeat("ab", 32) + "/info", limit: 30, window: minute, key: perIP, shares: "POST /invite/" + strings.Repeat("ab", 32) + "/accept"},
		{method: "POST", path: "/invite/" + strings.Repeat("ab", 32) + "/accept", limit: 30, window: minute, key: perIP},
		// §4.5 end-users.
		{method: "POST", path: "/api/end-users", limit: 60, window: minute, key: perUser},
		{method: "GET", path: "/api/end-users", limit: 300, window: minute, key: perUser},
		{method: "GET", path: "/api/end-users/" + ids.New(ids.EndUser), limit: 300, window: minute, key: perUser},
		{method: "PATCH", path: "/api/end-users/" + ids.New(ids.EndUser), limit: 60, window: minute, key: perUser},
		{method: "DELETE", path: "/api/end-users/" + ids.New(ids.EndUser), limit: 60, window: minute, key: perUser},
		// §4.6 agents.
		{method: "GET", path: "/api/agents/@acme/echo/bundle", limit: 30, window: minute, key: perUser},
		// §4.7 packages.
		{method: "POST", path: "/api/packages/import", limit: 10, window: minute, key: perUser},
		{method: "POST", path: "/api/packages/import-bundle", limit: 10, window: minute, key: perUser},
		{method: "POST", path: "/api/packages/import-github", limit: 10, window: minute, key: perUser},
		{method: "GET", path: "/api/packages/@acme/echo/1.0.0/download", limit: 50, window: minute, key: perUser},
		// §4.8 runs and the run sink.
		{method: "POST", path: "/api/agents/@acme/echo/run", limit: 20, window: minute, key: perUser},
		{method: "POST", path: "/api/runs/inline", limit: 60, window: minute, key: perUser},
		{method: "POST", path: "/api/runs/remote", limit: 200, window: minute, key: perUser},
		{method: "PATCH", path: "/api/runs/" + ids.New(ids.Run) + "/sink/extend", limit: 30, window: minute, key: perUser},
		{method: "POST", path: "/api/runs/{run}/events", limit: 200, window: time.Second, key: perRun, shares: "POST /api/runs/{run}/events/heartbeat"},
		{method: "POST", path: "/api/runs/{run}/events/finalize", limit: 200, window: time.Second, key: perRun, shares: "POST /api/runs/{run}/events"},
		{method: "POST", path: "/api/runs/{run}/events/heartbeat", limit: 200, window: time.Second, key: perRun, shares: "POST /api/runs/{run}/events/finalize"},
		// §4.10 schedules.
		{method: "POST", path: "/api/agents/@acme/echo/schedules", limit: 10, window: minute, key: perUser},
		// §4.11 connection profiles and application profiles.
		{method: "POST", path: "/api/connection-profiles", limit: 10, window: minute, key: perUser},
		{method: "POST", path: "/api/app-profiles", limit: 10, window: minute, key: perUser},
		{method: "POST", path: "/api/app-profiles/" + ids.UUID() + "/bind", limit: 10, window: minute, key: perUser},
		// §4.12 models, model-provider credentials, OAuth model providers, proxies.
		{method: "POST", path: "/api/models/test", limit: 5, window: minute, key: perUser},
		{method: "POST", path: "/api/models/" + ids.UUID() + "/test", limit: 5, window: minute, key: perUser},
		{method: "POST", path: "/api/model-provider-credentials/test", limit: 5, window: minute, key: perUser},
		{method: "POST", path: "/api/model-provider-credentials/" + ids.UUID() + "/test", limit: 5, window: minute, key: perUser},
		{method: "GET", path: "/api/models/openrouter", limit: 10, window: minute, key: perUser, pending: "OpenRouter model catalog"},
		{method: "POST", path: "/api/model-providers-oauth/pairing", limit: 10, window: minute, key: perUser, pending: "OAuth model-provider pairing"},
		{method: "POST", path: "/api/proxies/" + ids.UUID() + "/test", limit: 5, window: minute, key: perUser, pending: "org proxies"},
		// §4.13 uploads.
		{method: "POST", path: "/api/uploads", limit: 20, window: minute, key: perUser},
		{method: "PUT", path: "/api/uploads/_content?token=x.y", limit: 60, window: minute, key: perIP},
		// §4.14 credential proxy (every method) and LLM proxy: API keys only.
		{method: "GET", path: "/api/credential-proxy/proxy", limit: 100, window: minute, key: perAPIKey},
		{method: "POST", path: "/api/credential-proxy/proxy", limit: 100, window: minute, key: perAPIKey},
		{method: "PUT", path: "/api/credential-proxy/proxy", limit: 100, window: minute, key: perAPIKey},
		{method: "PATCH", path: "/api/credential-proxy/proxy", limit: 100, window: minute, key: perAPIKey},
		{method: "DELETE", path: "/api/credential-proxy/proxy", limit: 100, window: minute, key: perAPIKey},
		{method: "POST", path: "/api/llm-proxy/openai-completions/v1/chat/completions", limit: 60, window: minute, key: perAPIKey},
		{method: "POST", path: "/api/llm-proxy/anthropic-messages/v1/messages", limit: 60, window: minute, key: perAPIKey},
		{method: "POST", path: "/api/llm-proxy/mistral-conversations/v1/chat/completions", limit: 60, window: minute, key: perAPIKey},
		// §4.15 webhooks (the spec's create 10, list 300, test 5; the other routes are limited here too).
		{method: "POST", path: "/api/webhooks", limit: 10, window: minute, key: perUser},
		{method: "GET", path: "/api/webhooks", limit: 300, window: minute, key: perUser},
		{method: "POST", path: "/api/webhooks/" + ids.New(ids.Webhook) + "/test", limit: 5, window: minute, key: perUser},
		{method: "GET", path: "/api/webhooks/" + ids.New(ids.Webhook), limit: 300, window: minute, key: perUser},
		{method: "PUT", path: "/api/webhooks/" + ids.New(ids.Webhook), limit: 60, window: minute, key: perUser},
		{method: "DELETE", path: "/api/webhooks/" + ids.New(ids.Webhook), limit: 60, window: minute, key: perUser},
		{method: "POST", path: "/api/webhooks/" + ids.New(ids.Webhook) + "/rotate", limit: 5, window: minute, key: perUser},
		{method: "GET", path: "/api/webhooks/" + ids.New(ids.Webhook) + "/deliveries", limit: 300, window: minute, key: perUser},
		// §4.17 run-side routes, per run token.
		{method: "GET", path: "/internal/run-history", limit: 200, window: minute, key: perRunToken},
		{method: "GET", path: "/internal/memories", limit: 200, window: minute, key: perRunToken},
		{method: "GET", path: "/internal/credentials/@acme/crm", limit: 200, window: minute, key: perRunToken},
		{method: "POST", path: "/internal/credentials/@acme/crm/refresh", limit: 200, window: minute, key: perRunToken},
		{method: "GET", path: "/internal/oauth-token/" + ids.UUID(), limit: 200, window: minute, key: perRunToken},
		{method: "POST", path: "/internal/oauth-token/" + ids.UUID() + "/refresh", limit: 200, window: minute, key: perRunToken},
		{method: "POST", path: "/internal/llm-usage", limit: 200, window: minute, key: perRunToken},
	}
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newLimitWorld(t, e)
		for _, rt := range routes {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				if rt.pending != "" {
					w.checkAbsent(t, rt)
					return
				}
				w.checkLimit(t, rt)
			})
		}
	})
}

// caller is who sends a request: its headers, address and path variables.
type caller struct {
	header http.Header
	ip     string
	vars   map[string]string
}

// limitWorld is an organization with two members, two API keys, and a frozen limiter clock.
type limitWorld struct {
	e     *apptest.Env
	clock *frozenClock
	org   string
	// first and second caller of each budget kind
	callers map[budget][2]caller
}

type frozenClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *frozenClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *frozenClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newLimitWorld(t *testing.T, e *apptest.Env) *limitWorld {
	t.Helper()
	mem, ok := e.App.Limiter.(*ratelimit.Memory)
	if !ok {
		t.Fatalf("the app's limiter is %T, not the in-process one", e.App.Limiter)
	}
	clock := &frozenClock{now: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)}
	mem.SetClock(clock.Now)
	t.Cleanup(func() { mem.SetClock(nil) })

	owner := e.SeedUser("owner@limits.example")
	org, app := e.SeedOrg(owner, "limits")
	admin := e.SeedUser("admin@limits.example")
	e.SeedMember(org, admin, "admin")
	key := func(name string) http.Header {
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": name}, Headers: apptest.As(owner, org, app)})
		var k struct{ Key string }
		res.JSON(t, &k)
		if res.Status != http.StatusCreated || k.Key == "" {
			t.Fatalf("api key: %d %s", res.Status, res.Body)
		}
		return apptest.Headers("Authorization", "Bearer "+k.Key)
	}
	const ip1, ip2 = "192.0.2.10", "192.0.2.20"
	vars := map[string]string{"org": org}
	w := &limitWorld{e: e, clock: clock, org: org, callers: map[budget][2]caller{
		perUser:   {{apptest.As(owner, org, app), ip1, vars}, {apptest.As(admin, org, app), ip1, vars}},
		perAPIKey: {{key("first"), ip1, vars}, {key("second"), ip1, vars}},
		perIP:     {{http.Header{}, ip1, vars}, {http.Header{}, ip2, vars}},
		perRunToken: {
			{apptest.Headers("Authorization", "Bearer "+ids.New(ids.Run)+".aa"), ip1, vars},
			{apptest.Headers("Authorization", "Bearer "+ids.New(ids.Run)+".bb"), ip1, vars},
		},
		perRun: {
			{http.Header{}, ip1, map[string]string{"run": ids.New(ids.Run)}},
			{http.Header{}, ip1, map[string]string{"run": ids.New(ids.Run)}},
		},
	}}
	return w
}

// send makes one request of rt as c.
func (w *limitWorld) send(method, path string, c caller) *httptest.ResponseRecorder {
	for k, v := range c.vars {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	var body *bytes.Reader
	if method != http.MethodGet && method != http.MethodDelete {
		body = bytes.NewReader([]byte(`{}`))
	}
	var r *http.Request
	if body != nil {
		r = httptest.NewRequestWithContext(context.Background(), method, path, body)
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequestWithContext(context.Background(), method, path, nil)
	}
	r.RemoteAddr = c.ip + ":40000"
	for k, v := range c.header {
		r.Header[k] = v
	}
	rec := httptest.NewRecorder()
	w.e.App.HTTP.Handler().ServeHTTP(rec, r)
	return rec
}

// checkLimit exhausts the budget of the first caller and checks the headers, the 429, the other caller's
// budget and the end of the window.
func (w *limitWorld) checkLimit(t *testing.T, rt limitedRoute) {
	t.Helper()
	first, second := w.callers[rt.key][0], w.callers[rt.key][1]
	policy := fmt.Sprintf("%d;w=%d", rt.limit, int(rt.window/time.Second))
	for i := 1; i <= rt.limit; i++ {
		res := w.send(rt.method, rt.path, first)
		if res.Code == http.StatusTooManyRequests {
			t.Fatalf("call %d of %d refused: %s", i, rt.limit, res.Body)
		}
		if err := checkHeaders(res.Header(), rt.limit, rt.limit-i, rt.window, policy); err != nil {
			t.Fatalf("call %d (status %d): %v; body %s", i, res.Code, err, res.Body)
		}
	}
	res := w.send(rt.method, rt.path, first)
	if res.Code != http.StatusTooManyRequests {
		t.Fatalf("call %d: status %d, want 429: %s", rt.limit+1, res.Code, res.Body)
	}
	if err := checkRefusal(res, rt, policy); err != nil {
		t.Fatal(err)
	}
	if rt.shares != "" {
		method, path, _ := strings.Cut(rt.shares, " ")
		if res := w.send(method, path, first); res.Code != http.StatusTooManyRequests {
			t.Fatalf("%s does not share the budget: status %d", rt.shares, res.Code)
		}
	}
	// Another caller has its own budget.
	res = w.send(rt.method, rt.path, second)
	if res.Code == http.StatusTooManyRequests {
		t.Fatalf("another caller is refused: %s", res.Body)
	}
	if err := checkHeaders(res.Header(), rt.limit, rt.limit-1, rt.window, policy); err != nil {
		t.Fatalf("another caller: %v", err)
	}
	// The window ends: the first caller's budget is back (and every other window of this test restarts).
	w.clock.advance(rt.window)
	res = w.send(rt.method, rt.path, first)
	if res.Code == http.StatusTooManyRequests {
		t.Fatalf("refused after the window: %s", res.Body)
	}
	if err := checkHeaders(res.Header(), rt.limit, rt.limit-1, rt.window, policy); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	w.clock.advance(rt.window)
}

// checkAbsent verifies that a pending route is not served yet.
func (w *limitWorld) checkAbsent(t *testing.T, rt limitedRoute) {
	t.Helper()
	res := w.send(rt.method, rt.path, w.callers[rt.key][0])
	var p struct{ Code, Detail string }
	_ = json.Unmarshal(res.Body.Bytes(), &p)
	// 404: no such endpoint, or a neighbour's path parameter took the segment (GET /api/models/{id}).
	if res.Code != http.StatusNotFound || p.Code != "not_found" {
		t.Fatalf("%s now exists (status %d, %s): add its limit to this table and drop `pending`", rt.pending, res.Code, res.Body)
	}
}

// checkHeaders verifies `RateLimit: limit=N, remaining=M, reset=S` (0 < S ≤ window) and RateLimit-Policy.
func checkHeaders(h http.Header, limit, remaining int, window time.Duration, policy string) error {
	var gotLimit, gotRemaining, reset int
	if _, err := fmt.Sscanf(h.Get("RateLimit"), "limit=%d, remaining=%d, reset=%d", &gotLimit, &gotRemaining, &reset); err != nil {
		return fmt.Errorf("RateLimit %q: %v", h.Get("RateLimit"), err)
	}
	if gotLimit != limit || gotRemaining != remaining || reset < 1 || reset > int(window/time.Second) {
		return fmt.Errorf("RateLimit %q, want limit=%d, remaining=%d, reset in 1..%d", h.Get("RateLimit"), limit, remaining, int(window/time.Second))
	}
	if got := h.Get("RateLimit-Policy"); got != policy {
		return fmt.Errorf("RateLimit-Policy %q, want %q", got, policy)
	}
	return nil
}

// checkRefusal verifies a 429: the headers, Retry-After, and the body of the route's format.
func checkRefusal(res *httptest.ResponseRecorder, rt limitedRoute, policy string) error {
	if err := checkHeaders(res.Header(), rt.limit, 0, rt.window, policy); err != nil {
		return fmt.Errorf("429: %v", err)
	}
	retry, err := strconv.Atoi(res.Header().Get("Retry-After"))
	if err != nil || retry < 1 || retry > int(rt.window/time.Second) {
		return fmt.Errorf("429: Retry-After %q", res.Header().Get("Retry-After"))
	}
	ct := res.Header().Get("Content-Type")
	switch rt.format {
	case "html":
		if !strings.HasPrefix(ct, "text/html") {
			return fmt.Errorf("429: Content-Type %q, want a page", ct)
		}
	case "ba":
		var body struct{ Code string }
		if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil || body.Code != "TOO_MANY_REQUESTS" {
			return fmt.Errorf("429: body %s", res.Body)
		}
	default:
		var p struct {
			Status     int
			Code       string
			RetryAfter int `json:"retryAfter"`
		}
		if err := json.Unmarshal(res.Body.Bytes(), &p); err != nil || !strings.HasPrefix(ct, "application/problem+json") ||
			p.Status != http.StatusTooManyRequests || p.Code != "rate_limited" || p.RetryAfter != retry {
			return fmt.Errorf("429: %s %s", ct, res.Body)
		}
	}
	return nil
}
