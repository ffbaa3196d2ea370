package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/app"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// TestUserHeader carries the user id the test-only strategy authenticates as.
const TestUserHeader = "X-Test-User"

// Env is one platform under test.
type Env struct {
	T      *testing.T
	App    *app.App
	DB     *store.DB
	Logs   *bytes.Buffer // everything the app logged, for assertions (e.g. no secrets in logs)
	Config *config.Config
}

// Run calls fn once per dialect with a fresh platform. env adds or overrides environment variables.
func Run(t *testing.T, env map[string]string, fn func(t *testing.T, e *Env)) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		fn(t, New(t, db, env))
	})
}

// New assembles a platform over db with a test configuration (fresh DATA_DIR, generated secrets).
func New(t *testing.T, db *store.DB, env map[string]string) *Env {
	t.Helper()
	vars := map[string]string{"DATA_DIR": t.TempDir(), "LOG_LEVEL": "debug"}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := cfg.EnsureSecrets(logger); err != nil {
		t.Fatalf("secrets: %v", err)
	}
	a := app.Assemble(cfg, logger, db, app.WithStrategies(testUserStrategy{db: db}))
	t.Cleanup(a.StopBackground) // before the database closes (cleanups run last-in first-out)
	return &Env{T: t, App: a, DB: db, Logs: logs, Config: cfg}
}

// testUserStrategy authenticates `X-Test-User: <userId>` as a platform session of that user.
type testUserStrategy struct{ db *store.DB }

func (s testUserStrategy) Authenticate(r *http.Request) (*auth.Principal, error) {
	id := r.Header.Get(TestUserHeader)
	if id == "" {
		return nil, nil
	}
	var email, name, realm string
	err := s.db.QueryRowContext(r.Context(), `SELECT email, name, realm FROM users WHERE id = ?`, id).Scan(&email, &name, &realm)
	if err != nil {
		return nil, httpapi.Unauthorized("unknown test user")
	}
	return &auth.Principal{Method: auth.MethodSession, UserID: id, Email: email, Name: name, Realm: realm}, nil
}

// Response is a recorded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Problem decodes a problem+json body.
func (r *Response) Problem(t *testing.T) httpapi.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q is not problem+json (status %d, body %s)", ct, r.Status, r.Body)
	}
	var p httpapi.Problem
	r.JSON(t, &p)
	return p
}

// Request is one request under construction.
type Request struct {
	Method  string
	Path    string
	Body    any // encoded as JSON unless it is a string or []byte
	Headers http.Header
}

// Do sends req through the full pipeline.
func (e *Env) Do(req Request) *Response {
	e.T.Helper()
	var body io.Reader
	switch b := req.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	r := httptest.NewRequestWithContext(context.Background(), req.Method, req.Path, body)
	r.RemoteAddr = "127.0.0.1:40000"
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.Headers {
		r.Header[k] = v
	}
	rec := httptest.NewRecorder()
	e.App.HTTP.Handler().ServeHTTP(rec, r)
	return &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Headers builds a header set from name/value pairs.
func Headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// As returns headers authenticating as userID in orgID/appID ("" omits a header).
func As(userID, orgID, appID string) http.Header {
	h := http.Header{}
	if userID != "" {
		h.Set(TestUserHeader, userID)
	}
	if orgID != "" {
		h.Set("X-Org-Id", orgID)
	}
	if appID != "" {
		h.Set("X-Application-Id", appID)
	}
	return h
}
