package app

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(func(name string) (string, bool) {
		if name == "DATA_DIR" {
			return t.TempDir(), true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestOpenAPIGolden fails when the generated OpenAPI document changes; run with -update after an intended change.
func TestOpenAPIGolden(t *testing.T) {
	a := Assemble(testConfig(t), discard(), nil) // no database needed to describe the API
	got, err := json.MarshalIndent(a.HTTP.API().OpenAPI(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test ./internal/app -update to create it): %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("OpenAPI document changed; review and run `go test ./internal/app -run TestOpenAPIGolden -update`")
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct{ Title string }
	}
	if err := json.Unmarshal(got, &doc); err != nil || doc.OpenAPI != "3.1.0" || doc.Info.Title != "Appstrate API" {
		t.Fatalf("not an OpenAPI 3.1 document: %v %+v", err, doc)
	}
}

// TestServeOnBothDialects runs the real HTTP server over each database and drains it on cancel.
func TestServeOnBothDialects(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		if err := jobs.Migrate(t.Context(), db, nil); err != nil { // as New does: Serve starts the registered workers
			t.Fatal(err)
		}
		a := Assemble(testConfig(t), discard(), db)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Serve(ctx, ln) }()
		base := "http://" + ln.Addr().String()

		resp := get(t, base+"/health")
		if resp.StatusCode != 200 || !strings.Contains(resp.body, `"database":{"status":"healthy"`) {
			t.Fatalf("health: %d %s", resp.StatusCode, resp.body)
		}
		resp = get(t, base+"/api/nope")
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Request-Id") == "" {
			t.Fatalf("/api/nope: %d %v", resp.StatusCode, resp.Header)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("server did not stop")
		}
	})
}

func TestHealthReportsUnreachableDatabase(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		a := Assemble(testConfig(t), discard(), db)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "/health", nil)
		rec := httptest.NewRecorder()
		a.HTTP.Handler().ServeHTTP(rec, req)
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"health":"unhealthy"`) {
			t.Fatalf("health with closed db: %d %s", rec.Code, rec.Body.String())
		}
	})
}

type response struct {
	*http.Response
	body string
}

func get(t *testing.T, url string) response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, string(b)}
}
