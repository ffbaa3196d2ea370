package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSidecarBadEnvironment(t *testing.T) {
	withEnv(t, map[string]string{"SIDECAR_LISTEN": "unix:rel.sock"})
	var stdout, stderr bytes.Buffer
	code := Main([]string{"sidecar"}, &stdout, &stderr)
	if code != ExitConfig {
		t.Fatalf("exit code = %d, want %d", code, ExitConfig)
	}
	if got := stderr.String(); !strings.HasPrefix(got, "appstrate: SIDECAR_LISTEN: ") || strings.Count(got, "\n") != 1 {
		t.Fatalf("stderr = %q", got)
	}
}

// The command wires the sidecar to the egress forward proxy: the platform is reachable through the proxy for
// this run's sink endpoints only.
func TestSidecarCommandServesAPIAndForwardProxy(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("platform " + r.URL.Path))
	}))
	defer platform.Close()
	dir, err := os.MkdirTemp("", "sccli")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "sc.sock")
	withEnv(t, map[string]string{"SIDECAR_LISTEN": "unix:" + socket, "SIDECAR_PROXY_LISTEN": "127.0.0.1:0",
		"RUN_TOKEN": "run_cli.00", "PLATFORM_API_URL": platform.URL, "LOG_LEVEL": "error"})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	root := NewRoot()
	root.SetArgs([]string{"sidecar"})
	go func() { done <- root.ExecuteContext(ctx) }()

	api := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}}
	var health struct{ Status, Proxy string }
	for i := 0; health.Status != "ok"; i++ {
		if i > 500 {
			t.Fatal("sidecar never became healthy")
		}
		time.Sleep(10 * time.Millisecond)
		if resp, err := api.Get("http://sidecar/health"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
		}
	}
	proxyURL, _ := url.Parse("http://" + health.Proxy)
	viaProxy := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for path, want := range map[string]int{"/api/runs/run_cli/events": 200, "/api/runs/other/events": 403, "/internal/credentials/x": 403} {
		resp, err := viaProxy.Get(platform.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s through the proxy = %d, want %d", path, resp.StatusCode, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sidecar: %v", err)
	}
}
