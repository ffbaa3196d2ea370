package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/auth"
)

type echoInput struct {
	Body struct {
		Name  string   `json:"name" minLength:"1"`
		Count int      `json:"count,omitempty" minimum:"0" maximum:"10"`
		Tags  []string `json:"tags,omitempty" maxItems:"2"`
	}
}

type echoOutput struct {
	Body struct {
		Name string `json:"name"`
	}
}

// testServer builds a server with a bearer strategy ("Bearer good" authenticates) and a few test routes.
func testServer(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Strategies = append(opts.Strategies, StrategyFunc(func(r *http.Request) (*auth.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			return &auth.Principal{Method: auth.MethodAPIKey, OrgID: "org1"}, nil
		case "Bearer bad":
			return nil, Unauthorized("Invalid or expired API key")
		}
		return nil, nil
	}))
	if opts.BodyLimitBytes == 0 {
		opts.BodyLimitBytes = 1024
	}
	s := New(opts)
	Register(s.API(), echoOperation, func(_ context.Context, in *echoInput) (*echoOutput, error) {
		out := &echoOutput{}
		out.Body.Name = in.Body.Name
		return out, nil
	})
	Register(s.API(), panicOperation, func(context.Context, *struct{}) (*struct{}, error) {
		panic("boom")
	})
	s.RegisterHealth(HealthChecks{Database: func(context.Context) error { return nil }})
	return s
}

var echoOperation = withPath(http.MethodPost, "/api/test/echo")
var panicOperation = withPath(http.MethodGet, "/api/test/panic")

func do(t *testing.T, s *Server, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %s)", ct, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("decode problem: %v: %s", err, rec.Body)
	}
	if p.RequestID == "" || p.RequestID != rec.Header().Get("Request-Id") {
		t.Fatalf("requestId %q does not match Request-Id header %q", p.RequestID, rec.Header().Get("Request-Id"))
	}
	if p.Instance != "urn:appstrate:request:"+p.RequestID {
		t.Fatalf("instance = %q", p.Instance)
	}
	return p
}

func TestPipelineScenarios(t *testing.T) {
	s := testServer(t, Options{})
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		headers    []string
		wantStatus int
		wantCode   string
		wantDetail string
		wantParam  string
	}{
		{name: "unauthenticated unknown api route is 401 before 404", method: "GET", path: "/api/nope",
			wantStatus: 401, wantCode: "unauthorized", wantDetail: "Invalid or missing session"},
		{name: "internal routes need auth too", method: "GET", path: "/api/internal/oauth-token/x",
			wantStatus: 401, wantCode: "unauthorized"},
		{name: "strategy error stops the chain", method: "GET", path: "/api/nope", headers: []string{"Authorization", "Bearer bad"},
			wantStatus: 401, wantCode: "unauthorized", wantDetail: "Invalid or expired API key"},
		{name: "authenticated unknown api route is 404", method: "DELETE", path: "/api/nope/x", headers: []string{"Authorization", "Bearer good"},
			wantStatus: 404, wantCode: "not_found", wantDetail: "API endpoint not found: DELETE /api/nope/x"},
		{name: "wrong method on a known route is 404", method: "GET", path: "/api/test/echo", headers: []string{"Authorization", "Bearer good"},
			wantStatus: 404, wantCode: "not_found", wantDetail: "API endpoint not found: GET /api/test/echo"},
		{name: "malformed api version", method: "GET", path: "/api/nope", headers: []string{"Authorization", "Bearer good", "Appstrate-Version", "2026/03/21"},
			wantStatus: 400, wantCode: "invalid_api_version", wantParam: "Appstrate-Version"},
		{name: "impossible date", method: "GET", path: "/api/nope", headers: []string{"Authorization", "Bearer good", "Appstrate-Version", "2026-02-31"},
			wantStatus: 400, wantCode: "invalid_api_version", wantParam: "Appstrate-Version"},
		{name: "unsupported api version", method: "GET", path: "/api/nope", headers: []string{"Authorization", "Bearer good", "Appstrate-Version", "2025-01-01"},
			wantStatus: 400, wantCode: "unsupported_api_version", wantParam: "Appstrate-Version"},
		{name: "validation failure names the field", method: "POST", path: "/api/test/echo", body: `{"name":"","count":11}`,
			headers: []string{"Authorization", "Bearer good"}, wantStatus: 400, wantCode: "validation_failed"},
		{name: "missing required field", method: "POST", path: "/api/test/echo", body: `{}`,
			headers: []string{"Authorization", "Bearer good"}, wantStatus: 400, wantCode: "validation_failed", wantDetail: "name: expected required property name to be present"},
		{name: "malformed json", method: "POST", path: "/api/test/echo", body: `{"name":`,
			headers: []string{"Authorization", "Bearer good"}, wantStatus: 400, wantCode: "validation_failed"},
		{name: "declared body above the limit", method: "POST", path: "/api/test/echo", body: `{"name":"` + strings.Repeat("x", 2000) + `"}`,
			headers: []string{"Authorization", "Bearer good"}, wantStatus: 413, wantCode: "payload_too_large"},
		{name: "panic becomes internal_error", method: "GET", path: "/api/test/panic", headers: []string{"Authorization", "Bearer good"},
			wantStatus: 500, wantCode: "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, s, tt.method, tt.path, tt.body, tt.headers...)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			p := decodeProblem(t, rec)
			if p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Fatalf("code/status = %s/%d, want %s/%d", p.Code, p.Status, tt.wantCode, tt.wantStatus)
			}
			if tt.wantDetail != "" && p.Detail != tt.wantDetail {
				t.Fatalf("detail = %q, want %q", p.Detail, tt.wantDetail)
			}
			if p.Param != tt.wantParam {
				t.Fatalf("param = %q, want %q", p.Param, tt.wantParam)
			}
			if want := ErrorDocsBase + strings.ReplaceAll(tt.wantCode, "_", "-"); p.Type != want {
				t.Fatalf("type = %q, want %q", p.Type, want)
			}
			if rec.Header().Get("Appstrate-Version") != "" {
				t.Fatal("Appstrate-Version must not be echoed on errors")
			}
		})
	}
}

func TestValidationErrorsCarryFieldPaths(t *testing.T) {
	s := testServer(t, Options{})
	rec := do(t, s, "POST", "/api/test/echo", `{"name":"a","count":11,"tags":["a","b","c"],"extra":1}`, "Authorization", "Bearer good")
	p := decodeProblem(t, rec)
	got := map[string]string{}
	for _, e := range p.Errors {
		got[e.Field] = e.Code
	}
	want := map[string]string{"count": "out_of_range", "tags": "out_of_range", "extra": "unknown_field"}
	for field, code := range want {
		if got[field] != code {
			t.Errorf("errors[%s] = %q, want %q (all: %+v)", field, got[field], code, p.Errors)
		}
	}
	if !strings.Contains(p.Detail, "(+") {
		t.Errorf("detail %q should count the other errors", p.Detail)
	}
}

func TestSuccessEchoesAPIVersion(t *testing.T) {
	s := testServer(t, Options{})
	rec := do(t, s, "POST", "/api/test/echo", `{"name":"a"}`, "Authorization", "Bearer good")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Appstrate-Version"); got != CurrentAPIVersion {
		t.Fatalf("Appstrate-Version = %q", got)
	}
	if !strings.HasPrefix(rec.Header().Get("Request-Id"), "req_") {
		t.Fatalf("Request-Id = %q", rec.Header().Get("Request-Id"))
	}
	if strings.Contains(rec.Body.String(), "$schema") {
		t.Fatalf("body carries $schema: %s", rec.Body)
	}
}

func TestOrgAPIVersionIsUsedWithoutHeader(t *testing.T) {
	SupportedAPIVersions = append(SupportedAPIVersions, "2026-01-01")
	t.Cleanup(func() { SupportedAPIVersions = SupportedAPIVersions[:1] })
	s := testServer(t, Options{OrgAPIVersion: func(_ context.Context, orgID string) string {
		if orgID == "org1" {
			return "2026-01-01"
		}
		return ""
	}})
	rec := do(t, s, "POST", "/api/test/echo", `{"name":"a"}`, "Authorization", "Bearer good")
	if got := rec.Header().Get("Appstrate-Version"); got != "2026-01-01" {
		t.Fatalf("Appstrate-Version = %q", got)
	}
}

func TestTraceparentEcho(t *testing.T) {
	s := testServer(t, Options{})
	valid := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if got := do(t, s, "GET", "/health", "", "traceparent", valid).Header().Get("traceparent"); got != valid {
		t.Fatalf("valid traceparent not echoed: %q", got)
	}
	if got := do(t, s, "GET", "/health", "", "traceparent", "00-zz-00f067aa0ba902b7-01").Header().Get("traceparent"); got != "" {
		t.Fatalf("invalid traceparent echoed: %q", got)
	}
}

func TestCORS(t *testing.T) {
	s := testServer(t, Options{TrustedOrigins: []string{"http://localhost:3000"}})
	rec := do(t, s, "GET", "/health", "", "Origin", "http://localhost:3000")
	if rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:3000" || rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("trusted origin not reflected: %v", rec.Header())
	}
	rec = do(t, s, "GET", "/health", "", "Origin", "http://evil.example")
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("untrusted origin reflected")
	}
	rec = do(t, s, "OPTIONS", "/api/test/echo", "", "Origin", "http://localhost:3000",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-org-id")
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Headers") != "content-type,x-org-id" ||
		rec.Header().Get("Access-Control-Allow-Methods") != corsMethods {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
}

func TestShutdownGateRefusesPostsOnly(t *testing.T) {
	s := testServer(t, Options{})
	s.BeginShutdown()
	rec := do(t, s, "POST", "/api/test/echo", `{"name":"a"}`, "Authorization", "Bearer good")
	if rec.Code != 503 || decodeProblem(t, rec).Code != "shutting_down" {
		t.Fatalf("POST during shutdown: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/health", ""); rec.Code != 200 {
		t.Fatalf("GET during shutdown: %d", rec.Code)
	}
}

// TestStreamedBodyAboveLimit covers bodies without Content-Length: the limit trips while huma reads.
func TestStreamedBodyAboveLimit(t *testing.T) {
	s := testServer(t, Options{})
	body := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	req := httptest.NewRequest("POST", "/api/test/echo", io.MultiReader(bytes.NewReader([]byte(body))))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer good")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 || decodeProblem(t, rec).Code != "payload_too_large" {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func TestHealth(t *testing.T) {
	s := testServer(t, Options{})
	rec := do(t, s, "GET", "/health", "")
	var body HealthBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 || body.Status != "healthy" {
		t.Fatalf("health: %d %s", rec.Code, rec.Body)
	}

	down := New(Options{})
	down.RegisterHealth(HealthChecks{
		Database:     func(context.Context) error { return errors.New("connection refused") },
		AgentsLoaded: func(context.Context) bool { return false },
	})
	rec = do(t, down, "GET", "/health", "")
	if rec.Code != 503 {
		t.Fatalf("status %d", rec.Code)
	}
	p := decodeProblem(t, rec)
	var ext map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &ext)
	if p.Code != "service_unavailable" || ext["health"] != "unhealthy" || ext["checks"] == nil {
		t.Fatalf("unhealthy body: %s", rec.Body)
	}

	degraded := New(Options{})
	degraded.RegisterHealth(HealthChecks{
		Database:     func(context.Context) error { return nil },
		AgentsLoaded: func(context.Context) bool { return false },
	})
	rec = do(t, degraded, "GET", "/health", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"status":"degraded"`) {
		t.Fatalf("degraded: %d %s", rec.Code, rec.Body)
	}
}

func TestPublicRoutes(t *testing.T) {
	s := testServer(t, Options{})
	for _, path := range []string{"/api/openapi.json", "/api/docs", "/llms.txt", "/metrics", "/"} {
		if rec := do(t, s, "GET", path, ""); rec.Code != 200 {
			t.Errorf("GET %s = %d", path, rec.Code)
		}
	}
	rec := do(t, s, "GET", "/api/openapi.json", "")
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi document: %v %v", err, doc["openapi"])
	}
	if !strings.Contains(do(t, s, "GET", "/llms.txt", "").Body.String(), "- GET /health: Health check") {
		t.Fatal("llms.txt does not list the health operation")
	}
	metrics := do(t, s, "GET", "/metrics", "").Body.String()
	if !strings.Contains(metrics, "appstrate_http_requests_total") || !strings.Contains(metrics, "go_goroutines") {
		t.Fatal("metrics miss request counters or Go runtime metrics")
	}
}

func TestStaleSessionCookieIsCleared(t *testing.T) {
	s := testServer(t, Options{})
	rec := do(t, s, "GET", "/api/orgs", "", "Cookie", "better-auth.session_token=stale.sig")
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("Set-Cookie"), "better-auth.session_token=;") {
		t.Fatalf("%d Set-Cookie=%q", rec.Code, rec.Header().Get("Set-Cookie"))
	}
}

func TestOpenAPIDocumentRevalidates(t *testing.T) {
	s := testServer(t, Options{})
	first := do(t, s, "GET", "/api/openapi.json", "")
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("first fetch: %d ETag %q", first.Code, etag)
	}
	again := do(t, s, "GET", "/api/openapi.json", "", "If-None-Match", etag)
	if again.Code != 304 || again.Body.Len() != 0 || again.Header().Get("ETag") != etag {
		t.Fatalf("revalidation: %d %q", again.Code, again.Header().Get("ETag"))
	}
	if stale := do(t, s, "GET", "/api/openapi.json", "", "If-None-Match", `"other"`); stale.Code != 200 || stale.Body.Len() == 0 {
		t.Fatalf("stale etag: %d", stale.Code)
	}
	if yaml := do(t, s, "GET", "/api/openapi.yaml", ""); yaml.Code != 200 || yaml.Header().Get("ETag") == "" {
		t.Fatalf("yaml: %d", yaml.Code)
	}
}
