package sidecar_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/sidecar"
)

const (
	testRunToken = "run_test.0123abcd"
	testSCToken  = "sc-secret-token"
)

// fakePlatform plays the platform's /internal/* routes.
type fakePlatform struct {
	*httptest.Server
	mu        sync.Mutex
	payloads  map[string]credentials.Payload // providerId → payload
	refreshed map[string]credentials.Payload // providerId → payload after refresh
	refreshes int
	queries   []string // path?query of run-history/memories calls
	usage     chan sidecar.UsageReport
	usageGate chan struct{} // when set, usage reports are answered only once it is closed
	authSeen  []string
}

func newFakePlatform(t *testing.T) *fakePlatform {
	t.Helper()
	p := &fakePlatform{payloads: map[string]credentials.Payload{}, refreshed: map[string]credentials.Payload{},
		usage: make(chan sidecar.UsageReport, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /internal/credentials/", p.credentials)
	mux.HandleFunc("POST /internal/credentials/", p.refresh)
	mux.HandleFunc("GET /internal/run-history", p.listing(`{"object":"list","data":[{"id":"run_1","status":"success","date":"2026-01-01T00:00:00Z","duration":12,"checkpoint":{"n":1}}],"hasMore":false}`))
	mux.HandleFunc("GET /internal/memories", p.listing(`{"memories":[{"id":1,"content":"likes tea","createdAt":"2026-01-01T00:00:00Z","actorType":"user","actorId":"u1"}]}`))
	mux.HandleFunc("POST /internal/llm-usage", func(w http.ResponseWriter, r *http.Request) {
		p.recordAuth(r)
		var rep sidecar.UsageReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		p.mu.Lock()
		gate := p.usageGate
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
		p.usage <- rep
		w.WriteHeader(http.StatusNoContent)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

func (p *fakePlatform) recordAuth(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.authSeen = append(p.authSeen, r.Header.Get("Authorization"))
}

func (p *fakePlatform) set(providerID string, pl credentials.Payload) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.payloads[providerID] = pl
}

func (p *fakePlatform) setRefreshed(providerID string, pl credentials.Payload) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshed[providerID] = pl
}

func (p *fakePlatform) credentials(w http.ResponseWriter, r *http.Request) {
	p.recordAuth(r)
	id := strings.TrimPrefix(r.URL.Path, "/internal/credentials/")
	p.mu.Lock()
	pl, ok := p.payloads[id]
	p.mu.Unlock()
	if !ok {
		problem(w, 404, "Provider '"+id+"' is not required by this agent")
		return
	}
	writeTestJSON(w, pl)
}

func (p *fakePlatform) refresh(w http.ResponseWriter, r *http.Request) {
	p.recordAuth(r)
	id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/internal/credentials/"), "/refresh")
	p.mu.Lock()
	pl, found := p.refreshed[id]
	p.refreshes++
	p.mu.Unlock()
	if !ok || !found {
		problem(w, 401, "credential revoked")
		return
	}
	writeTestJSON(w, pl)
}

func (p *fakePlatform) listing(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.recordAuth(r)
		p.mu.Lock()
		p.queries = append(p.queries, r.URL.Path+"?"+r.URL.RawQuery)
		p.mu.Unlock()
		if r.URL.Query().Get("fields") == "state" {
			problem(w, 400, "Unknown field: state")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func (p *fakePlatform) refreshCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refreshes
}

func (p *fakePlatform) nextUsage(t *testing.T) sidecar.UsageReport {
	t.Helper()
	select {
	case rep := <-p.usage:
		return rep
	case <-time.After(10 * time.Second):
		t.Fatal("no usage report reached the platform")
		return sidecar.UsageReport{}
	}
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "detail": detail})
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// providerAddr is the loopback address the fake provider listens on; the test policy treats it (and only it)
// as public.
const providerAddr = "127.0.0.2"

// startProvider serves h on 127.0.0.2, reachable as api.provider.test and other.provider.test.
func startProvider(t *testing.T, h http.Handler) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", providerAddr+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", providerAddr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port
}

// testResolver maps the test names: *.provider.test → 127.0.0.2, evil.test → 127.0.0.1.
type testResolver struct{}

func (testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	switch {
	case strings.HasSuffix(host, ".provider.test"):
		return []netip.Addr{netip.MustParseAddr(providerAddr)}, nil
	case host == "evil.test":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testPolicy refuses every internal address except the fake provider's.
func testPolicy() *netguard.Policy {
	return &netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix(providerAddr + "/32")}, Resolver: testResolver{}}
}

// harness is a sidecar under test with its platform.
type harness struct {
	platform *fakePlatform
	sidecar  *sidecar.Sidecar
	server   *httptest.Server
	client   *mcp.Client
}

// newHarness builds a sidecar from env (merged over a default environment pointing at the fake platform).
func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	pf := newFakePlatform(t)
	base := map[string]string{"RUN_TOKEN": testRunToken, "PLATFORM_API_URL": pf.URL, "SIDECAR_TOKEN": testSCToken}
	for k, v := range env {
		base[k] = v
	}
	cfg, err := sidecar.LoadConfig(func(k string) (string, bool) { v, ok := base[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sc := sidecar.New(cfg, sidecar.Options{Logger: logger, ProviderPolicy: testPolicy()})
	srv := httptest.NewServer(sc.Handler())
	t.Cleanup(srv.Close)
	c := mcp.NewClient(srv.URL+"/mcp", srv.Client(), http.Header{"Authorization": {"Bearer " + testSCToken}})
	if _, err := c.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &harness{platform: pf, sidecar: sc, server: srv, client: c}
}

// testWriter logs to the test until it ends: the sidecar's background goroutines (usage reports) may still
// log after the test's last assertion, and logging to a finished test is a race.
type testWriter struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, mu: &sync.Mutex{}, done: new(bool)}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		*w.done = true
	})
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (h *harness) call(t *testing.T, tool string, args string) *mcp.CallToolResult {
	t.Helper()
	res, err := h.client.CallTool(context.Background(), tool, json.RawMessage(args))
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

// upstreamMeta decodes the "appstrate/upstream" meta.
func upstreamMeta(t *testing.T, res *mcp.CallToolResult) (status int, headers map[string]string, finalURL string) {
	t.Helper()
	raw, _ := json.Marshal(res.Meta["appstrate/upstream"])
	var m struct {
		Status   int               `json:"status"`
		Headers  map[string]string `json:"headers"`
		FinalURL string            `json:"finalUrl"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("upstream meta %s: %v", raw, err)
	}
	return m.Status, m.Headers, m.FinalURL
}

func budgetMeta(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	m, _ := res.Meta["appstrate://token-budget"].(map[string]any)
	if m == nil {
		t.Fatalf("no token-budget meta in %+v", res.Meta)
	}
	return m
}

func jsonArgs(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func providerURL(host, port, path string) string {
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: path}).String()
}
