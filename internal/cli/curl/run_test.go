package curl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type result struct {
	code           int
	msg            string
	stdout, stderr string
	sleeps         []time.Duration
}

func runAgainst(t *testing.T, instance, stdin string, args ...string) result {
	t.Helper()
	o, err := Parse(args)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	var mu sync.Mutex
	var sleeps []time.Duration
	env := Env{Instance: instance, Profile: "default", Stdout: &out, Stderr: &errb,
		Files: Files{Stdin: strings.NewReader(stdin)},
		Defaults: func(context.Context) ([]Header, error) {
			return []Header{{"User-Agent", "appstrate-cli/test"}, {"Authorization", "Bearer secret-jwt"}, {"X-Org-Id", "org_1"}}, nil
		},
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			sleeps = append(sleeps, d)
			mu.Unlock()
			return nil
		},
	}
	code, msg := Run(context.Background(), o, env)
	return result{code, msg, out.String(), errb.String(), sleeps}
}

func TestRunOutputsAndExitCodes(t *testing.T) {
	var mu sync.Mutex
	var last *http.Request
	var lastBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = r.Clone(context.Background())
		lastBody, _ = io.ReadAll(r.Body)
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("X-Thing", "A")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":true}`)
		case "/missing":
			w.WriteHeader(404)
			fmt.Fprint(w, `{"detail":"nope"}`)
		case "/boom":
			w.WriteHeader(502)
			fmt.Fprint(w, "bad gateway")
		case "/unauthorized":
			w.WriteHeader(401)
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/gzip":
			if r.Header.Get("Accept-Encoding") != "gzip, deflate" {
				t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
			}
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			fmt.Fprint(gz, "unzipped")
			gz.Close()
		}
	}))
	defer srv.Close()
	tests := []struct {
		name  string
		args  []string
		stdin string
		check func(t *testing.T, r result)
	}{
		{"any status exits 0 without -f", []string{"/missing"}, "", func(t *testing.T, r result) {
			if r.code != 0 || r.stdout != `{"detail":"nope"}` {
				t.Fatalf("%+v", r)
			}
		}},
		{"-f discards the body, 22 under 500", []string{"-f", "/missing"}, "", func(t *testing.T, r result) {
			if r.code != 22 || r.stdout != "" || r.msg != "The requested URL returned error: 404" {
				t.Fatalf("%+v", r)
			}
		}},
		{"--fail-with-body keeps it, 25 from 500", []string{"--fail-with-body", "/boom"}, "", func(t *testing.T, r result) {
			if r.code != 25 || r.stdout != "bad gateway" {
				t.Fatalf("%+v", r)
			}
		}},
		{"-sf is silent", []string{"-sf", "/missing"}, "", func(t *testing.T, r result) {
			if r.code != 22 || r.msg != "" || r.stderr != "" {
				t.Fatalf("%+v", r)
			}
		}},
		{"-i prints the status line and lower-case headers", []string{"-i", "/ok"}, "", func(t *testing.T, r result) {
			if !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || !strings.Contains(r.stdout, "\r\nx-thing: A\r\n") ||
				!strings.HasSuffix(r.stdout, "\r\n\r\n"+`{"ok":true}`) {
				t.Fatalf("%q", r.stdout)
			}
		}},
		{"-I is HEAD without body", []string{"-I", "/ok"}, "", func(t *testing.T, r result) {
			if r.code != 0 || !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\r\n") || strings.Contains(r.stdout, "ok") || last.Method != "HEAD" {
				t.Fatalf("%+v", r)
			}
		}},
		{"-w after the body", []string{"-w", `\n%{http_code} %{size_download} %{header_json}`, "/ok"}, "", func(t *testing.T, r result) {
			if !strings.HasPrefix(r.stdout, `{"ok":true}`+"\n200 11 {") || !strings.HasSuffix(r.stdout, `"x-thing":"A"}`) {
				t.Fatalf("%q", r.stdout)
			}
		}},
		{"401 prints the login hint", []string{"/unauthorized"}, "", func(t *testing.T, r result) {
			if r.code != 0 || !strings.Contains(r.stderr, "Session may be expired — run: appstrate login --profile default") {
				t.Fatalf("%+v", r)
			}
		}},
		{"redirects are not followed without -L", []string{"-w", "%{http_code} %{num_redirects}", "/redirect"}, "", func(t *testing.T, r result) {
			if !strings.HasSuffix(r.stdout, "302 0") {
				t.Fatalf("%q", r.stdout)
			}
		}},
		{"-L follows them", []string{"-L", "-w", " %{http_code} %{num_redirects} %{url_effective}", "/redirect"}, "", func(t *testing.T, r result) {
			if r.stdout != `{"ok":true} 200 1 `+srv.URL+"/ok" || last.Header.Get("Authorization") != "Bearer secret-jwt" {
				t.Fatalf("%q %v", r.stdout, last.Header)
			}
		}},
		{"-v redacts the bearer", []string{"-v", "-H", "X-Extra: 1", "/ok"}, "", func(t *testing.T, r result) {
			for _, want := range []string{"* Profile: \"default\" → ", "* Bearer injected from keyring, never exposed to caller", "> GET /ok HTTP/1.1",
				"> Authorization: Bearer [REDACTED]", "> X-Extra: 1", "< HTTP/1.1 200 OK", "< x-thing: A"} {
				if !strings.Contains(r.stderr, want) {
					t.Fatalf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "secret-jwt") {
				t.Fatal("bearer leaked")
			}
		}},
		{"stdin body is streamed", []string{"-d", "@-", "POST", "/ok"}, "piped body", func(t *testing.T, r result) {
			if string(lastBody) != "piped body" || last.Header.Get("Content-Type") != "" {
				t.Fatalf("%q %v", lastBody, last.Header)
			}
		}},
		{"--compressed decodes gzip", []string{"--compressed", "/gzip"}, "", func(t *testing.T, r result) {
			if r.stdout != "unzipped" {
				t.Fatalf("%q", r.stdout)
			}
		}},
		{"-o writes the body to a file", []string{"-o", t.TempDir() + "/out.json", "-w", "%{http_code}", "/ok"}, "", func(t *testing.T, r result) {
			if r.stdout != "200" {
				t.Fatalf("%q", r.stdout)
			}
		}},
		{"usage refusal exits 2 and still writes -w", []string{"-w", "%{http_code} %{exitcode}", "http://other.example/x"}, "", func(t *testing.T, r result) {
			if r.code != 2 || r.stdout != "0 2" || !strings.Contains(r.msg, "foreign host") {
				t.Fatalf("%+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, runAgainst(t, srv.URL, tt.stdin, tt.args...))
		})
	}
}

func TestCrossOriginRedirectDropsAuthorization(t *testing.T) {
	var got http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	}))
	defer srv.Close()
	r := runAgainst(t, srv.URL, "", "-L", "/go")
	if r.code != 0 || got == nil || got.Get("Authorization") != "" || got.Get("X-Org-Id") != "org_1" {
		t.Fatalf("%+v %v", r, got)
	}
}

func TestRetries(t *testing.T) {
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch {
		case r.URL.Path == "/flaky" && i <= 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
		case r.URL.Path == "/backoff":
			w.WriteHeader(500)
		case r.URL.Path == "/huge-retry-after":
			w.Header().Set("Retry-After", "99999")
			w.WriteHeader(429)
		default:
			fmt.Fprint(w, "done")
		}
	}))
	defer srv.Close()
	r := runAgainst(t, srv.URL, "", "--retry", "3", "-v", "/flaky")
	if r.code != 0 || r.stdout != "done" || fmt.Sprint(r.sleeps) != "[1s 1s]" || !strings.Contains(r.stderr, "* retry after 1000ms (status 503)") {
		t.Fatalf("%+v", r)
	}
	r = runAgainst(t, srv.URL, "", "--retry", "3", "--retry-delay", "0.5", "/backoff")
	if fmt.Sprint(r.sleeps) != "[500ms 1s 2s]" {
		t.Fatalf("exponential backoff: %v", r.sleeps)
	}
	r = runAgainst(t, srv.URL, "", "--retry", "1", "--retry-delay", "2", "/huge-retry-after")
	if fmt.Sprint(r.sleeps) != "[2s]" {
		t.Fatalf("Retry-After over an hour is ignored: %v", r.sleeps)
	}
	r = runAgainst(t, srv.URL, "", "--retry", "3", "--retry-max-time", "1", "/backoff")
	if len(r.sleeps) != 0 {
		t.Fatalf("--retry-max-time: %v", r.sleeps)
	}
	r = runAgainst(t, srv.URL, "x", "--retry", "3", "-d", "@-", "/backoff")
	if len(r.sleeps) != 0 || !strings.Contains(r.stderr, "--retry disabled") {
		t.Fatalf("stdin body: %+v", r)
	}
}

func TestNetworkErrors(t *testing.T) {
	// A closed port: connection refused (7), retried only with --retry-connrefused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	r := runAgainst(t, closed, "", "-w", "%{http_code}", "/x")
	if r.code != 7 || r.stdout != "0" || !strings.HasPrefix(r.msg, "Failed to connect: ") {
		t.Fatalf("%+v", r)
	}
	if r = runAgainst(t, closed, "", "--retry", "2", "/x"); len(r.sleeps) != 0 {
		t.Fatalf("retried a refused connection: %v", r.sleeps)
	}
	if r = runAgainst(t, closed, "", "--retry", "2", "--retry-connrefused", "/x"); len(r.sleeps) != 2 {
		t.Fatalf("--retry-connrefused: %v", r.sleeps)
	}

	// Headers that never come: 28.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	for _, flag := range []string{"--max-time", "--connect-timeout"} {
		r = runAgainst(t, slow.URL, "", flag, "0.2", "/x")
		if r.code != 28 || r.msg != "Operation timed out" {
			t.Fatalf("%s: %+v", flag, r)
		}
	}

	// DNS and TLS failures map to 6 and 35.
	ctx := context.Background()
	if code, _ := classifyNetErr(ctx, &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}); code != 6 {
		t.Fatal(code)
	}
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	if r = runAgainst(t, tlsSrv.URL, "", "/x"); r.code != 35 {
		t.Fatalf("self-signed certificate: %+v", r)
	}
	if r = runAgainst(t, tlsSrv.URL, "", "-k", "/x"); r.code != 0 {
		t.Fatalf("-k: %+v", r)
	}
}

func TestNotLoggedInStillWritesOut(t *testing.T) {
	o, _ := Parse([]string{"-w", "%{http_code}:%{exitcode}", "/x"})
	var out bytes.Buffer
	code, msg := Run(context.Background(), o, Env{Instance: "http://127.0.0.1:1", Stdout: &out, Stderr: io.Discard,
		Defaults: func(context.Context) ([]Header, error) { return nil, errors.New("Profile \"default\" not configured") }})
	if code != 1 || out.String() != "0:1" || !strings.Contains(msg, "not configured") {
		t.Fatalf("%d %q %q", code, out.String(), msg)
	}
}
