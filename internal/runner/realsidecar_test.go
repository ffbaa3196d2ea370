package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/runner"
	"github.com/appstrate/appstrate-go/internal/sidecar"
)

// providerIP is the loopback address the fake provider listens on; the sidecar's policy lets it (and only
// it) pass for a public address.
const providerIP = "127.0.0.2"

type providerResolver struct{}

func (providerResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if strings.HasSuffix(host, ".provider.test") {
		return []netip.Addr{netip.MustParseAddr(providerIP)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// realSidecar runs internal/sidecar for a run connected to the provider "notion", with a fake platform for
// its credentials and a fake provider API at http://api.provider.test:<port>, which it returns.
func realSidecar(t *testing.T, provider http.Handler) (sidecarURL, apiURL string) {
	t.Helper()
	ln, err := net.Listen("tcp", providerIP+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", providerIP, err)
	}
	api := httptest.NewUnstartedServer(provider)
	api.Listener = ln
	api.Start()
	t.Cleanup(api.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	platformMux := http.NewServeMux()
	platformMux.HandleFunc("GET /internal/credentials/notion", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(credentials.Payload{Credentials: map[string]string{"api_key": "secret-notion-key"},
			AllowAllURIs: true, CredentialHeaderName: "Authorization", CredentialHeaderPrefix: "Bearer", CredentialFieldName: "api_key"})
	})
	platform := httptest.NewServer(platformMux)
	t.Cleanup(platform.Close)

	env := map[string]string{"RUN_TOKEN": "run_test.0123abcd", "PLATFORM_API_URL": platform.URL, "SIDECAR_TOKEN": sidecarToken}
	cfg, err := sidecar.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	policy := &netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix(providerIP + "/32")}, Resolver: providerResolver{}}
	sc := sidecar.New(cfg, sidecar.Options{Logger: slog.New(slog.DiscardHandler), ProviderPolicy: policy})
	srv := httptest.NewServer(sc.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, "http://api.provider.test:" + port
}

// TestProviderCallThroughTheSidecar: provider_call against internal/sidecar itself — a small JSON answer comes
// back inline, a large one the sidecar stores is read back and saved to the workspace, a binary one too, an
// HTTP error is an error result with its status, and a fromFile body reaches the provider as its bytes.
func TestProviderCallThroughTheSidecar(t *testing.T) {
	large := `{"rows":"` + strings.Repeat("r", 60000) + `"}`
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 500)...)
	var received []byte
	api := http.NewServeMux()
	api.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"Ada","auth":"`+r.Header.Get("Authorization")+`"}`)
	})
	api.HandleFunc("GET /large", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, large)
	})
	api.HandleFunc("GET /logo", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	api.HandleFunc("GET /missing", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"no such page"}`)
	})
	api.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		received, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
	})
	sidecarURL, apiURL := realSidecar(t, api)
	_, tools, ws := connect(t, sidecarURL, []string{"notion"})
	if err := os.WriteFile(filepath.Join(ws.Dir(), "report.bin"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	call := func(id, args string) (string, error) {
		ctx := runner.WithToolCallID(context.Background(), id)
		return tools[runner.ToolProviderCall].Call(ctx, json.RawMessage(`{"providerId":"notion",`+args+`}`))
	}
	type result struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    map[string]any    `json:"body"`
	}
	decode := func(out string) result {
		t.Helper()
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("result %s: %v", out, err)
		}
		return r
	}

	out, err := call("call_me", `"target":"`+apiURL+`/me"`)
	if err != nil {
		t.Fatal(err)
	}
	r := decode(out)
	if r.Status != 200 || r.Headers["content-type"] != "application/json" || r.Body["kind"] != "text" ||
		r.Body["text"] != `{"name":"Ada","auth":"Bearer secret-notion-key"}` {
		t.Fatalf("small answer %s", out)
	}

	for _, tt := range []struct{ id, path, mime, content string }{
		{"call_large", "/large", "application/json", large},
		{"call_logo", "/logo", "image/png", string(png)},
	} {
		out, err := call(tt.id, `"target":"`+apiURL+tt.path+`"`)
		if err != nil {
			t.Fatal(err)
		}
		r := decode(out)
		if r.Status != 200 || r.Body["kind"] != "file" || r.Body["path"] != "responses/"+tt.id+".bin" ||
			r.Body["mimeType"] != tt.mime || r.Body["size"] != float64(len(tt.content)) || r.Body["sha256"] != sha([]byte(tt.content)) {
			t.Fatalf("%s: %s", tt.path, out)
		}
		saved, err := os.ReadFile(filepath.Join(ws.Dir(), "responses", tt.id+".bin"))
		if err != nil || string(saved) != tt.content {
			t.Fatalf("%s saved %d bytes, %v", tt.path, len(saved), err)
		}
	}

	_, err = call("call_missing", `"target":"`+apiURL+`/missing"`)
	var te *runner.ToolError
	if !errors.As(err, &te) || !strings.Contains(te.Message, `"status":404`) || !strings.Contains(te.Message, `no such page`) {
		t.Fatalf("404: %v", err)
	}

	out, err = call("call_upload", `"target":"`+apiURL+`/upload","method":"POST","body":{"fromFile":"report.bin"}`)
	if err != nil || decode(out).Status != 201 || string(received) != string(png) {
		t.Fatalf("upload: %s, %v; the provider received %d bytes", out, err, len(received))
	}
}
