package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/idempotency"
)

type idemInput struct {
	Body struct {
		Name string `json:"name" minLength:"1"`
		Size int    `json:"size,omitempty" doc:"length of the padding in the response"`
	}
}

type idemOutput struct {
	Location  string `header:"Location"`
	SetCookie string `header:"Set-Cookie"`
	Body      struct {
		Call    int64  `json:"call"`
		Name    string `json:"name"`
		Padding string `json:"padding,omitempty"`
	}
}

// idemServer is a server whose test routes count their calls. "Bearer org1"/"Bearer org2" authenticate
// in two organizations. Routes: /create (201), /other (a second route), /flaky (500 on the first call),
// /panic (panics on the first call), /raw (writes through the raw writer), /block (waits for release).
type idemServer struct {
	*Server
	store   *idempotency.Memory
	calls   atomic.Int64
	started chan struct{}
	release chan struct{}
}

func newIdemServer(t testing.TB) *idemServer {
	t.Helper()
	s := &idemServer{store: &idempotency.Memory{}, started: make(chan struct{}, 8), release: make(chan struct{})}
	strategy := StrategyFunc(func(r *http.Request) (*auth.Principal, error) {
		if org, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			return &auth.Principal{Method: auth.MethodAPIKey, APIKeyID: "key_" + org, OrgID: org, ApplicationID: "app_" + org}, nil
		}
		return nil, nil
	})
	s.Server = New(Options{Strategies: []Strategy{strategy}, BodyLimitBytes: 4 << 20})
	handler := func(_ context.Context, in *idemInput) (*idemOutput, error) {
		out := &idemOutput{Location: "/api/test/things/1", SetCookie: "session=abc"}
		out.Body.Call, out.Body.Name = s.calls.Add(1), in.Body.Name
		out.Body.Padding = strings.Repeat("x", in.Body.Size)
		return out, nil
	}
	reg := func(path string, h func(context.Context, *idemInput) (*idemOutput, error)) {
		op := withPath(http.MethodPost, "/api/test/"+path)
		op.DefaultStatus = http.StatusCreated
		Register(s.API(), WithIdempotency(op, s.store, nil), h)
	}
	reg("create", handler)
	reg("other", handler)
	reg("flaky", func(ctx context.Context, in *idemInput) (*idemOutput, error) {
		if s.calls.Load() == 0 {
			s.calls.Add(1)
			return nil, errors.New("database unavailable")
		}
		return handler(ctx, in)
	})
	reg("limited", func(ctx context.Context, in *idemInput) (*idemOutput, error) {
		if s.calls.Load() == 0 {
			s.calls.Add(1)
			return nil, NewProblem(http.StatusTooManyRequests, "org_run_rate_limited", "retry in 5s").WithRetryAfter(5)
		}
		return handler(ctx, in)
	})
	reg("unavailable", func(ctx context.Context, in *idemInput) (*idemOutput, error) {
		s.calls.Add(1)
		return nil, NewProblem(http.StatusServiceUnavailable, "unavailable", "try later")
	})
	reg("panic", func(ctx context.Context, in *idemInput) (*idemOutput, error) {
		if s.calls.Load() == 0 {
			s.calls.Add(1)
			panic("boom")
		}
		return handler(ctx, in)
	})
	reg("block", func(ctx context.Context, in *idemInput) (*idemOutput, error) {
		s.started <- struct{}{}
		<-s.release
		return handler(ctx, in)
	})
	// A middleware that answers through the raw writer, bypassing huma: nothing is recorded.
	raw := withPath(http.MethodPost, "/api/test/raw")
	raw = WithIdempotency(raw, s.store, nil)
	raw.Middlewares = append(raw.Middlewares, func(ctx huma.Context, next func(huma.Context)) {
		s.calls.Add(1)
		_, w := humago.Unwrap(ctx)
		w.WriteHeader(http.StatusAccepted)
	})
	Register(s.API(), raw, handler)
	return s
}

func (s *idemServer) post(t testing.TB, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/test/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer org1")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header[headers[i]] = []string{headers[i+1]}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func key(k string) []string { return []string{HeaderIdempotencyKey, k} }

func TestIdempotencyReplay(t *testing.T) {
	s := newIdemServer(t)
	first := s.post(t, "create", `{"name":"a"}`, key("k1")...)
	if first.Code != http.StatusCreated || first.Header().Get(HeaderReplayed) != "" {
		t.Fatalf("first: %d %v %s", first.Code, first.Header(), first.Body)
	}
	// Same key, same bytes: replayed, the handler does not run again.
	again := s.post(t, "create", `{"name":"a"}`, key("k1")...)
	if again.Code != http.StatusCreated || again.Header().Get(HeaderReplayed) != "true" {
		t.Fatalf("replay: %d %v %s", again.Code, again.Header(), again.Body)
	}
	if !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("replayed body %s, want %s", again.Body, first.Body)
	}
	for _, h := range []string{"Content-Type", "Location"} {
		if again.Header().Get(h) != first.Header().Get(h) || first.Header().Get(h) == "" {
			t.Errorf("%s: replay %q, first %q", h, again.Header().Get(h), first.Header().Get(h))
		}
	}
	if again.Header().Get("Set-Cookie") != "" {
		t.Errorf("Set-Cookie replayed: %q", again.Header().Get("Set-Cookie"))
	}
	if id := again.Header().Get("Request-Id"); id == "" || id == first.Header().Get("Request-Id") {
		t.Errorf("replay Request-Id %q must be the replay's own (first %q)", id, first.Header().Get("Request-Id"))
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	// Semantically equal JSON with other bytes is another body: conflict.
	conflict := s.post(t, "create", `{"name": "a"}`, key("k1")...)
	if conflict.Code != http.StatusUnprocessableEntity || decodeProblem(t, conflict).Code != "idempotency_conflict" {
		t.Fatalf("different body: %d %s", conflict.Code, conflict.Body)
	}
	// Without a key, or with another key, the request runs.
	for _, headers := range [][]string{nil, key("k2")} {
		if rec := s.post(t, "create", `{"name":"a"}`, headers...); rec.Code != http.StatusCreated || rec.Header().Get(HeaderReplayed) != "" {
			t.Fatalf("%v: %d %v", headers, rec.Code, rec.Header())
		}
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
}

// TestIdempotencyScope: the same key is independent across organizations and across routes.
func TestIdempotencyScope(t *testing.T) {
	s := newIdemServer(t)
	s.post(t, "create", `{"name":"a"}`, key("shared")...)
	if rec := s.post(t, "other", `{"name":"a"}`, key("shared")...); rec.Header().Get(HeaderReplayed) != "" || rec.Code != http.StatusCreated {
		t.Fatalf("another route replayed: %d %v", rec.Code, rec.Header())
	}
	rec := do(t, s.Server, http.MethodPost, "/api/test/create", `{"name":"a"}`, "Authorization", "Bearer org2", HeaderIdempotencyKey, "shared")
	if rec.Header().Get(HeaderReplayed) != "" || rec.Code != http.StatusCreated {
		t.Fatalf("another organization replayed: %d %v", rec.Code, rec.Header())
	}
	if n := s.calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3", n)
	}
}

// TestIdempotencyCachesClientErrors: 4xx answers, huma's validation problems included, are replayed.
func TestIdempotencyCachesClientErrors(t *testing.T) {
	s := newIdemServer(t)
	first := s.post(t, "create", `{"name":""}`, key("bad")...)
	if first.Code != http.StatusBadRequest || decodeProblem(t, first).Code != "validation_failed" {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	again := s.post(t, "create", `{"name":""}`, key("bad")...)
	if again.Code != http.StatusBadRequest || again.Header().Get(HeaderReplayed) != "true" ||
		!bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) || again.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("replay: %d %v %s", again.Code, again.Header(), again.Body)
	}
}

// TestIdempotencyReleases: after a 5xx, a 429, a panic, a response too large to store or a response written
// around huma, the same key runs the request again.
func TestIdempotencyReleases(t *testing.T) {
	for _, tt := range []struct {
		name, path, body string
		firstStatus      int
		secondStatus     int
	}{
		{"500", "flaky", `{"name":"a"}`, http.StatusInternalServerError, http.StatusCreated},
		{"503 problem", "unavailable", `{"name":"a"}`, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"429 problem", "limited", `{"name":"a"}`, http.StatusTooManyRequests, http.StatusCreated},
		{"panic", "panic", `{"name":"a"}`, http.StatusInternalServerError, http.StatusCreated},
		{"body above 1 MiB", "create", `{"name":"a","size":1048576}`, http.StatusCreated, http.StatusCreated},
		{"raw writer", "raw", `{"name":"a"}`, http.StatusAccepted, http.StatusAccepted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newIdemServer(t)
			first := s.post(t, tt.path, tt.body, key("k")...)
			if first.Code != tt.firstStatus {
				t.Fatalf("first: %d %.200s", first.Code, first.Body)
			}
			second := s.post(t, tt.path, tt.body, key("k")...)
			if second.Code != tt.secondStatus || second.Header().Get(HeaderReplayed) != "" {
				t.Fatalf("second: %d %v %.200s", second.Code, second.Header(), second.Body)
			}
			if n := s.calls.Load(); n != 2 {
				t.Fatalf("handler ran %d times, want 2", n)
			}
		})
	}
}

// TestIdempotencyLargeBodyIsLogged: the release of a key whose response is too large is logged at debug.
func TestIdempotencyLargeBodyIsLogged(t *testing.T) {
	var logs idemLogBuffer
	logger := idemTestLogger(&logs)
	store := &idempotency.Memory{}
	s := New(Options{Strategies: []Strategy{StrategyFunc(func(*http.Request) (*auth.Principal, error) {
		return &auth.Principal{Method: auth.MethodAPIKey, OrgID: "org1"}, nil
	})}, Logger: logger})
	op := withPath(http.MethodPost, "/api/test/big")
	Register(s.API(), WithIdempotency(op, store, logger), func(context.Context, *struct{}) (*idemOutput, error) {
		out := &idemOutput{}
		out.Body.Padding = strings.Repeat("x", idempotency.MaxResponseBytes)
		return out, nil
	})
	rec := do(t, s, http.MethodPost, "/api/test/big", "", HeaderIdempotencyKey, "k")
	if rec.Code != http.StatusOK || rec.Body.Len() <= idempotency.MaxResponseBytes {
		t.Fatalf("status %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if !strings.Contains(logs.String(), "body larger than 1 MiB") {
		t.Fatalf("no debug line about the large body in:\n%s", logs.String())
	}
}

func TestIdempotencyInProgress(t *testing.T) {
	s := newIdemServer(t)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- s.post(t, "block", `{"name":"a"}`, key("k")...) }()
	<-s.started // the first request holds the key
	for _, body := range []string{`{"name":"a"}`, `{"name":"b"}`} {
		rec := s.post(t, "block", body, key("k")...)
		if rec.Code != http.StatusConflict || decodeProblem(t, rec).Code != "idempotency_in_progress" {
			t.Fatalf("duplicate in flight (%s): %d %s", body, rec.Code, rec.Body)
		}
	}
	close(s.release)
	if first := <-done; first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	if rec := s.post(t, "block", `{"name":"a"}`, key("k")...); rec.Header().Get(HeaderReplayed) != "true" {
		t.Fatalf("after completion: %d %v", rec.Code, rec.Header())
	}
}

// TestIdempotencyConcurrentDuplicates: of 8 identical requests sent at once, one runs; the others are told
// it is in progress or get its replay.
func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	s := newIdemServer(t)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i] = s.post(t, "create", `{"name":"a"}`, key("k")...).Code })
	}
	wg.Wait()
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1 (statuses %v)", n, codes)
	}
	for _, c := range codes {
		if c != http.StatusCreated && c != http.StatusConflict {
			t.Fatalf("statuses %v", codes)
		}
	}
}

func TestIdempotencyInvalidKey(t *testing.T) {
	s := newIdemServer(t)
	for _, k := range []string{strings.Repeat("k", 256), "a\x00b", "\xff"} {
		rec := s.post(t, "create", `{"name":"a"}`, key(k)...)
		p := decodeProblem(t, rec)
		if rec.Code != http.StatusBadRequest || p.Code != "invalid_idempotency_key" || p.Param != HeaderIdempotencyKey {
			t.Fatalf("key %q: %d %s", k, rec.Code, rec.Body)
		}
	}
	if n := s.calls.Load(); n != 0 {
		t.Fatalf("handler ran %d times, want 0", n)
	}
	if rec := s.post(t, "create", `{"name":"a"}`, key(strings.Repeat("k", 255))...); rec.Code != http.StatusCreated {
		t.Fatalf("255-character key: %d %s", rec.Code, rec.Body)
	}
}

// TestIdempotencyStreamedBodyAboveLimit: a body read error reaches huma, which answers as without a key.
func TestIdempotencyStreamedBodyAboveLimit(t *testing.T) {
	s := newIdemServer(t)
	body := `{"name":"` + strings.Repeat("x", 5<<20) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/api/test/create", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer org1")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, "k")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || decodeProblem(t, rec).Code != "payload_too_large" {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec := s.post(t, "create", `{"name":"a"}`, key("k")...); rec.Code != http.StatusCreated || rec.Header().Get(HeaderReplayed) != "" {
		t.Fatalf("key taken by the failed read: %d %v", rec.Code, rec.Header())
	}
}

type failingStore struct{ idempotency.Memory }

func (*failingStore) Begin(context.Context, string, string, string, time.Duration) (idempotency.Outcome, error) {
	return idempotency.Outcome{}, errors.New("connection refused")
}

func TestIdempotencyStoreFailureDoesNotRunTheRequest(t *testing.T) {
	var calls atomic.Int64
	s := New(Options{Strategies: []Strategy{StrategyFunc(func(*http.Request) (*auth.Principal, error) {
		return &auth.Principal{Method: auth.MethodAPIKey, OrgID: "org1"}, nil
	})}, Logger: idemTestLogger(io.Discard)})
	Register(s.API(), WithIdempotency(withPath(http.MethodPost, "/api/test/x"), &failingStore{}, idemTestLogger(io.Discard)),
		func(context.Context, *struct{}) (*struct{}, error) { calls.Add(1); return nil, nil })
	rec := do(t, s, http.MethodPost, "/api/test/x", "", HeaderIdempotencyKey, "k")
	if rec.Code != http.StatusInternalServerError || decodeProblem(t, rec).Code != "internal_error" || calls.Load() != 0 {
		t.Fatalf("status %d, %d calls: %s", rec.Code, calls.Load(), rec.Body)
	}
}

func TestWithIdempotencyDocumentsTheHeader(t *testing.T) {
	op := WithIdempotency(huma.Operation{Errors: []int{http.StatusBadRequest, http.StatusConflict}}, &idempotency.Memory{}, nil)
	if len(op.Parameters) != 1 || op.Parameters[0].Name != HeaderIdempotencyKey || op.Parameters[0].In != "header" {
		t.Fatalf("parameters %+v", op.Parameters)
	}
	if !slices.Equal(op.Errors, []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity}) {
		t.Fatalf("errors %v", op.Errors)
	}
	if len(op.Middlewares) != 1 {
		t.Fatalf("%d middlewares", len(op.Middlewares))
	}
	if op := WithIdempotency(huma.Operation{}, nil, nil); len(op.Parameters)+len(op.Middlewares) != 0 {
		t.Fatal("a nil store changed the operation")
	}
}

func TestIdempotencyScopeFormat(t *testing.T) {
	p := &auth.Principal{OrgID: "org_1", ApplicationID: "app_1"}
	if got := IdempotencyScope(p, "POST", "/api/end-users"); got != "org_1/app_1/- POST /api/end-users" {
		t.Fatalf("scope %q", got)
	}
	if got := IdempotencyScope(nil, "POST", "/x"); got != "-/-/- POST /x" {
		t.Fatalf("scope %q", got)
	}
}

// FuzzIdempotencyKeyHeader: any header value is either refused with 400 invalid_idempotency_key (exactly
// when ValidateKey refuses it) or runs/replays the request.
func FuzzIdempotencyKeyHeader(f *testing.F) {
	for _, seed := range []string{"", "k", "8e03978e-40d5-43e8-bc93-6894a57f9324", strings.Repeat("k", 255),
		strings.Repeat("k", 256), strings.Repeat("é", 255), "a\x00b", "\xff", "a\rb", " "} {
		f.Add(seed)
	}
	s := newIdemServer(f)
	f.Fuzz(func(t *testing.T, k string) {
		req := httptest.NewRequest(http.MethodPost, "/api/test/create", strings.NewReader(`{"name":"a"}`))
		req.Header.Set("Authorization", "Bearer org1")
		req.Header.Set("Content-Type", "application/json")
		req.Header[HeaderIdempotencyKey] = []string{k}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		invalid := k != "" && idempotency.ValidateKey(k) != nil
		var p Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		switch {
		case invalid && (rec.Code != http.StatusBadRequest || p.Code != "invalid_idempotency_key" || p.Param != HeaderIdempotencyKey):
			t.Fatalf("invalid key %q: %d %s", k, rec.Code, rec.Body)
		case !invalid && rec.Code != http.StatusCreated:
			t.Fatalf("valid key %q: %d %s", k, rec.Code, rec.Body)
		}
	})
}

// idemLogBuffer is a log sink safe for the concurrent writes of a server.
type idemLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *idemLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *idemLogBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func idemTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
