package sidecar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/mcp"
	"github.com/appstrate/appstrate-go/internal/sidecar"
)

func TestMCPEndpoint(t *testing.T) {
	h := newHarness(t, map[string]string{"SIDECAR_MAX_MCP_ENVELOPE_BYTES": "2048"})
	ctx := context.Background()

	tools, err := h.client.ListTools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "provider_call,recall_memory,run_history" {
		t.Fatalf("tools = %v", names)
	}
	var schema struct {
		Required             []string `json:"required"`
		AdditionalProperties bool     `json:"additionalProperties"`
	}
	if err := json.Unmarshal(tools[0].InputSchema, &schema); err != nil || schema.AdditionalProperties || strings.Join(schema.Required, ",") != "providerId,target" {
		t.Fatalf("provider_call schema: %s", tools[0].InputSchema)
	}

	post := func(host string, header map[string]string, body string) (int, mcp.Response) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.server.URL+"/mcp", strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := h.server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out mcp.Response
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tok := map[string]string{"X-Sidecar-Token": testSCToken}
	cases := []struct {
		name   string
		host   string
		header map[string]string
		body   string
		status int
		code   int
	}{
		{"x-sidecar-token", "", tok, ping, 200, 0},
		{"bearer", "sidecar:8080", map[string]string{"Authorization": "Bearer " + testSCToken}, ping, 200, 0},
		{"localhost", "localhost", tok, ping, 200, 0},
		{"no token", "", nil, ping, 401, mcp.CodeServerError},
		{"wrong bearer", "", map[string]string{"Authorization": "Bearer nope"}, ping, 401, mcp.CodeServerError},
		{"rebinding host", "evil.example:80", tok, ping, 403, mcp.CodeServerError},
		{"envelope too large", "", tok, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 3000) + `"}}`, 413, mcp.CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := post(tc.host, tc.header, tc.body)
			if status != tc.status {
				t.Fatalf("status = %d, want %d (%+v)", status, tc.status, resp.Error)
			}
			if tc.code == 0 {
				if resp.Error != nil {
					t.Fatalf("error = %+v", resp.Error)
				}
				return
			}
			if resp.Error == nil || resp.Error.Code != tc.code {
				t.Fatalf("error = %+v, want code %d", resp.Error, tc.code)
			}
			if tc.status == 413 {
				data, _ := resp.Error.Data.(map[string]any)
				if data["reason"] != "PAYLOAD_TOO_LARGE" {
					t.Fatalf("data = %v", resp.Error.Data)
				}
			}
		})
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stubProxy stands in for the egress proxy: it serves until ctx ends.
type stubProxy struct{}

func (stubProxy) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func TestRunOnUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "sc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "s.sock")
	cfg, err := sidecar.LoadConfig(mapEnv(map[string]string{"SIDECAR_LISTEN": "unix:" + socket, "SIDECAR_PROXY_LISTEN": "127.0.0.1:0"}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))

	if err := sidecar.New(cfg, sidecar.Options{Logger: logger}).Run(context.Background()); err == nil || !strings.Contains(err.Error(), "no forward proxy") {
		t.Fatalf("Run without a forward proxy: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sidecar.New(cfg, sidecar.Options{Logger: logger, ForwardProxy: stubProxy{}}).Run(ctx) }()

	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	var health map[string]string
	for i := 0; ; i++ {
		resp, err := client.Get("http://sidecar/health")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 500 {
			t.Fatalf("sidecar never became healthy: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if health["status"] != "ok" || !strings.HasPrefix(health["proxy"], "127.0.0.1:") || strings.HasSuffix(health["proxy"], ":0") {
		t.Fatalf("health = %v", health)
	}
	if !strings.Contains(logs.String(), `"msg":"sidecar ready"`) {
		t.Fatalf("no ready line in %s", logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadConfig(t *testing.T) {
	cfg, err := sidecar.LoadConfig(mapEnv(map[string]string{"RUN_TOKEN": "run_abc.ff"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.String() != "127.0.0.1:8080" || !cfg.ProxyListen.IsZero() || cfg.RunID != "run_abc" ||
		cfg.MaxRequestBodyBytes != 10<<20 || cfg.MaxMCPEnvelopeBytes != 16<<20 || cfg.ProviderCallConcurrency != 3 || cfg.ContextWindow != 128000 {
		t.Fatalf("defaults = %+v", cfg)
	}
	bad := []struct{ name, value, wantVar string }{
		{"SIDECAR_LISTEN", "unix:relative.sock", "SIDECAR_LISTEN"},
		{"SIDECAR_LISTEN", "nope", "SIDECAR_LISTEN"},
		{"SIDECAR_PROXY_LISTEN", "127.0.0.1:99999", "SIDECAR_PROXY_LISTEN"},
		{"PLATFORM_API_URL", "ftp://x", "PLATFORM_API_URL"},
		{"PI_BASE_URL", "not a url", "PI_BASE_URL"},
		{"PROXY_URL", "http://", "PROXY_URL"},
		{"MODEL_API", "cobol", "MODEL_API"},
		{"MODEL_CONTEXT_WINDOW", "-1", "MODEL_CONTEXT_WINDOW"},
		{"MODEL_MAX_TOKENS", "many", "MODEL_MAX_TOKENS"},
		{"SIDECAR_MAX_REQUEST_BODY_BYTES", "104857601", "SIDECAR_MAX_REQUEST_BODY_BYTES"},
		{"SIDECAR_MAX_MCP_ENVELOPE_BYTES", "0", "SIDECAR_MAX_MCP_ENVELOPE_BYTES"},
		{"SIDECAR_PROVIDER_CALL_CONCURRENCY", "0", "SIDECAR_PROVIDER_CALL_CONCURRENCY"},
		{"LOG_LEVEL", "loud", "LOG_LEVEL"},
		{"PI_LLM_OAUTH_CONFIG_JSON", "{}", "PI_LLM_OAUTH_CONFIG_JSON"},
	}
	for _, tc := range bad {
		_, err := sidecar.LoadConfig(mapEnv(map[string]string{tc.name: tc.value}))
		var ce *sidecar.ConfigError
		if !errors.As(err, &ce) || ce.Var != tc.wantVar || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: err = %v", tc.name, tc.value, err)
		}
	}
	_, err = sidecar.LoadConfig(mapEnv(map[string]string{"PI_BASE_URL": "http://x", "PI_PLACEHOLDER": "p"}))
	if err == nil || !strings.HasPrefix(err.Error(), "PI_API_KEY:") {
		t.Errorf("placeholder without key: %v", err)
	}
	_, err = sidecar.LoadConfig(mapEnv(map[string]string{"PROXY_URL": "http://user:hunter2@proxy"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sidecar.LoadConfig(mapEnv(map[string]string{"PROXY_URL": "ftp://user:hunter2@proxy"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the proxy password: %v", err)
	}
}
