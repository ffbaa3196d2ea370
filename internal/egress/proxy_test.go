package egress

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what an origin server received, echoed back as JSON.
type seenRequest struct {
	Method string      `json:"method"`
	Host   string      `json:"host"`
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

func echoRequest(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Hop", "per-connection")
	w.Header().Set("Connection", "X-Hop")
	w.Header().Set("Proxy-Authenticate", `Basic realm="origin"`)
	_ = json.NewEncoder(w).Encode(seenRequest{r.Method, r.Host, r.RequestURI, r.Header, string(body)})
}

func decodeSeen(t *testing.T, resp *http.Response) seenRequest {
	t.Helper()
	defer func() { _ = resp.Body.Close() }()
	var s seenRequest
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode origin echo: %v", err)
	}
	return s
}

func TestForwardHTTP(t *testing.T) {
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(echoRequest))
	h := startProxy(t, Config{})
	target := "http://public.test:" + port(t, origin.Listener.Addr().String()) + "/hello/there?q=1&r=%2F"

	tests := []struct {
		name, method, body string
	}{
		{"GET", http.MethodGet, ""},
		{"POST with body", http.MethodPost, `{"streamed":true}`},
		{"PUT", http.MethodPut, strings.Repeat("x", 100<<10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, target, body)
			req.Header.Set("X-Keep", "kept")
			req.Header.Set("X-Secret-Hop", "dropped")
			req.Header.Add("Connection", "X-Secret-Hop")
			req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0OnNlY3JldA==")
			req.Header.Set("Keep-Alive", "timeout=5")
			resp, err := h.client(nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			for _, hop := range []string{"X-Hop", "Proxy-Authenticate"} {
				if v := resp.Header.Get(hop); v != "" {
					t.Errorf("response header %s = %q reached the client", hop, v)
				}
			}
			seen := decodeSeen(t, resp)
			if seen.Method != tc.method || seen.URI != "/hello/there?q=1&r=%2F" || seen.Body != tc.body {
				t.Errorf("origin saw %s %s body %d bytes", seen.Method, seen.URI, len(seen.Body))
			}
			if want := "public.test:" + port(t, origin.Listener.Addr().String()); seen.Host != want {
				t.Errorf("origin Host = %q, want %q", seen.Host, want)
			}
			if seen.Header.Get("X-Keep") != "kept" {
				t.Error("end-to-end header X-Keep lost")
			}
			for _, hop := range []string{"X-Secret-Hop", "Proxy-Authorization", "Keep-Alive", "Proxy-Connection"} {
				if v := seen.Header.Get(hop); v != "" {
					t.Errorf("hop-by-hop %s = %q reached the origin", hop, v)
				}
			}
		})
	}
}

// TestForwardStreamsResponse: the client gets the first chunk while the origin still holds the rest, so the
// body is not buffered by the proxy.
func TestForwardStreamsResponse(t *testing.T) {
	release := make(chan struct{})
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	h := startProxy(t, Config{})
	resp, err := h.client(nil).Get("http://public.test:" + port(t, origin.Listener.Addr().String()) + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	first := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: first\n\n" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "data: second\n\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func TestConnectTLS(t *testing.T) {
	origin := serveOn(t, publicAddr, true, http.HandlerFunc(echoRequest))
	h := startProxy(t, Config{})
	client := h.client(origin.Client().Transport.(*http.Transport))
	resp, err := client.Get("https://example.com:" + port(t, origin.Listener.Addr().String()) + "/secure")
	if err != nil {
		t.Fatal(err)
	}
	if seen := decodeSeen(t, resp); seen.URI != "/secure" || resp.TLS == nil {
		t.Fatalf("origin saw %q over TLS=%v", seen.URI, resp.TLS != nil)
	}
}

// TestRefusals: internal destinations, by literal or by name, and names that do not resolve get the same 403
// over HTTP and CONNECT; nothing is dialled and the refusal is logged.
func TestRefusals(t *testing.T) {
	var internal canary
	internalSrv := serveOn(t, "127.0.0.1", false, &internal)
	ip := port(t, internalSrv.Listener.Addr().String())
	h := startProxy(t, Config{})

	targets := []string{
		"127.0.0.1:" + ip,
		"127.1.2.3:" + ip,
		"[::1]:" + ip,
		"[::ffff:127.0.0.1]:" + ip,
		"0.0.0.0:" + ip,
		"169.254.169.254:80",
		"10.0.0.1:80",
		"172.16.0.1:443",
		"192.168.1.1:80",
		"[fd00::1]:80",
		"[fe80::1]:80",
		"rebind.test:" + ip,
		"REBIND.test.:" + ip,
		"mixed.test:80",
		"metadata.test:80",
		"ula.test:80",
		"does-not-exist.test:80",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			for _, req := range []string{
				"GET http://" + target + "/ HTTP/1.1\r\nHost: " + target + "\r\n\r\n",
				"CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n",
			} {
				resp, body, _, _ := h.raw(t, req)
				if resp.StatusCode != http.StatusForbidden || body != blockedBody {
					t.Errorf("%s: %d %q, want 403 %q", firstLine(req), resp.StatusCode, body, blockedBody)
				}
			}
		})
	}
	if n := internal.hits.Load(); n != 0 {
		t.Errorf("internal server reached %d times", n)
	}
	if n := strings.Count(h.logs.String(), `"msg":"egress: refused"`); n != 2*len(targets) {
		t.Errorf("%d refusals logged, want %d", n, 2*len(targets))
	}
}

func TestPlatformOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var reached []string
	platform := serveOn(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.RequestURI)
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"ok":true,"got":`+string(body)+`}`)
	}))
	hostport := platform.Listener.Addr().String()
	h := startProxy(t, Config{
		PlatformURL:          "http://" + hostport,
		AllowedPlatformPaths: SinkPaths("/api/runs/run_1/events"),
	})

	tests := []struct {
		name, method, target string
		status               int
		body                 string
	}{
		{"events", "POST", "http://" + hostport + "/api/runs/run_1/events", 200, `{"ok":true,"got":{}}`},
		{"finalize", "POST", "http://" + hostport + "/api/runs/run_1/events/finalize", 200, `{"ok":true,"got":{}}`},
		{"heartbeat with query", "POST", "http://" + hostport + "/api/runs/run_1/events/heartbeat?x=1", 200, `{"ok":true,"got":{}}`},
		{"another run", "POST", "http://" + hostport + "/api/runs/run_2/events", 403, platformBody},
		{"other endpoint", "GET", "http://" + hostport + "/api/orgs", 403, platformBody},
		{"internal endpoint", "GET", "http://" + hostport + "/internal/credentials/@x/y", 403, platformBody},
		{"dot segments", "POST", "http://" + hostport + "/api/runs/run_1/events/../../run_2/events", 403, platformBody},
		{"encoded", "POST", "http://" + hostport + "/api/runs/run_1/%65vents", 403, platformBody},
		{"double slash", "POST", "http://" + hostport + "//api/runs/run_1/events", 403, platformBody},
		{"trailing slash", "POST", "http://" + hostport + "/api/runs/run_1/events/", 403, platformBody},
		{"CONNECT to http platform", "CONNECT", hostport, 403, platformBody},
		{"platform by another name", "POST", "http://localhost:" + port(t, hostport) + "/api/runs/run_1/events", 403, blockedBody},
		{"platform host other port", "POST", "http://127.0.0.1:1/api/runs/run_1/events", 403, blockedBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req string
			if tc.method == "CONNECT" {
				req = "CONNECT " + tc.target + " HTTP/1.1\r\nHost: " + tc.target + "\r\n\r\n"
			} else {
				req = tc.method + " " + tc.target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
			}
			resp, body, _, _ := h.raw(t, req)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"POST /api/runs/run_1/events",
		"POST /api/runs/run_1/events/finalize",
		"POST /api/runs/run_1/events/heartbeat?x=1",
	}
	if strings.Join(reached, "|") != strings.Join(want, "|") {
		t.Errorf("platform reached %q, want %q", reached, want)
	}
}

// TestPlatformOverHTTPS: with an https platform URL, CONNECT to exactly its host:port is allowed (the path
// cannot be checked inside TLS); any other port of that host, and plain HTTP to it, are refused.
func TestPlatformOverHTTPS(t *testing.T) {
	platform := serveOn(t, "127.0.0.1", true, http.HandlerFunc(echoRequest))
	hostport := platform.Listener.Addr().String()
	h := startProxy(t, Config{
		PlatformURL:          "https://" + hostport,
		AllowedPlatformPaths: SinkPaths("/api/runs/run_1/events"),
	})
	client := h.client(platform.Client().Transport.(*http.Transport))
	resp, err := client.Post("https://"+hostport+"/api/runs/run_1/events", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if seen := decodeSeen(t, resp); seen.URI != "/api/runs/run_1/events" {
		t.Fatalf("platform saw %q", seen.URI)
	}

	var other canary
	otherPort := port(t, serveOn(t, "127.0.0.1", false, &other).Listener.Addr().String())
	for _, req := range []string{
		"CONNECT 127.0.0.1:" + otherPort + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST http://" + hostport + "/api/runs/run_1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	} {
		resp, body, _, _ := h.raw(t, req)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d %q, want 403", firstLine(req), resp.StatusCode, body)
		}
	}
	if other.hits.Load() != 0 {
		t.Error("another port of the platform host was reached")
	}
}

func TestChainedUpstream(t *testing.T) {
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(echoRequest))
	tlsOrigin := serveOn(t, publicAddr, true, http.HandlerFunc(echoRequest))
	up := &upstreamProxy{user: "proxy-user", pass: "s3cret:with colon"}
	upstream := serveOn(t, "127.0.0.1", false, up)
	var platformHits canary
	platform := serveOn(t, "127.0.0.1", false, &platformHits)

	h := startProxy(t, Config{
		Upstream:             mustURL(t, "http://proxy-user:s3cret%%3Awith%%20colon@%s", upstream.Listener.Addr().String()),
		PlatformURL:          "http://" + platform.Listener.Addr().String(),
		AllowedPlatformPaths: []string{"/api/runs/r/events"},
	})
	wantAuth := "Basic cHJveHktdXNlcjpzM2NyZXQ6d2l0aCBjb2xvbg=="

	// Plain HTTP through the upstream; the client's own proxy credentials are not passed on.
	req, _ := http.NewRequest(http.MethodGet, "http://public.test:"+port(t, origin.Listener.Addr().String())+"/via", nil)
	req.Header.Set("Proxy-Authorization", "Basic Y2xpZW50OmNsaWVudA==")
	resp, err := h.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if seen := decodeSeen(t, resp); resp.StatusCode != 200 || seen.URI != "/via" || seen.Header.Get("Proxy-Authorization") != "" {
		t.Fatalf("HTTP via upstream: %d, origin saw %q with Proxy-Authorization %q", resp.StatusCode, seen.URI, seen.Header.Get("Proxy-Authorization"))
	}

	// CONNECT through the upstream.
	resp, err = h.client(tlsOrigin.Client().Transport.(*http.Transport)).Get("https://example.com:" + port(t, tlsOrigin.Listener.Addr().String()) + "/tls")
	if err != nil {
		t.Fatal(err)
	}
	if seen := decodeSeen(t, resp); seen.URI != "/tls" {
		t.Fatalf("CONNECT via upstream: origin saw %q", seen.URI)
	}

	auths, targets := up.seen()
	if len(auths) != 2 || auths[0] != wantAuth || auths[1] != wantAuth {
		t.Errorf("upstream saw Proxy-Authorization %q, want %q twice", auths, wantAuth)
	}
	if !strings.HasPrefix(targets[1], "CONNECT example.com:") {
		t.Errorf("upstream targets %q", targets)
	}

	// Internal destinations are refused before the upstream; the platform is reached directly.
	before := up.hits.Load()
	for _, target := range []string{"10.0.0.1:80", "rebind.test:80", "does-not-exist.test:443"} {
		for _, req := range []string{
			"CONNECT " + target + " HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET http://" + target + "/ HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			if resp, body, _, _ := h.raw(t, req); resp.StatusCode != 403 || body != blockedBody {
				t.Errorf("%s: %d %q", firstLine(req), resp.StatusCode, body)
			}
		}
	}
	resp2, _, _, _ := h.raw(t, "POST http://"+platform.Listener.Addr().String()+"/api/runs/r/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
	if resp2.StatusCode != 200 || platformHits.hits.Load() != 1 {
		t.Errorf("platform: %d, hits %d", resp2.StatusCode, platformHits.hits.Load())
	}
	if up.hits.Load() != before {
		t.Errorf("upstream reached for refused or platform destinations")
	}
}

func TestChainedUpstreamFailures(t *testing.T) {
	echo, _ := echoServer(t)
	target := "public.test:" + port(t, echo)

	t.Run("wrong credentials", func(t *testing.T) {
		up := &upstreamProxy{user: "u", pass: "right"}
		upstream := serveOn(t, "127.0.0.1", false, up)
		h := startProxy(t, Config{Upstream: mustURL(t, "http://u:wrong@%s", upstream.Listener.Addr().String())})
		resp, body, _, _ := h.raw(t, "CONNECT "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadGateway || body != "Bad Gateway: upstream proxy answered 407\n" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
	})
	t.Run("oversized CONNECT answer", func(t *testing.T) {
		l := listen(t, "127.0.0.1")
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer func() { _ = c.Close() }()
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
		}()
		h := startProxy(t, Config{Upstream: mustURL(t, "http://%s", l.Addr().String()), MaxHeaderBytes: 1024})
		resp, body, _, _ := h.raw(t, "CONNECT "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
		if !strings.Contains(h.logs.String(), "headers exceed 1024 bytes") {
			t.Errorf("cap not logged: %s", h.logs.String())
		}
	})
	t.Run("upstream down", func(t *testing.T) {
		l := listen(t, "127.0.0.1")
		addr := l.Addr().String()
		_ = l.Close()
		h := startProxy(t, Config{Upstream: mustURL(t, "http://%s", addr)})
		resp, _, _, _ := h.raw(t, "CONNECT "+target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestRequestHeaderCap(t *testing.T) {
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(echoRequest))
	h := startProxy(t, Config{MaxHeaderBytes: 1024})
	target := "public.test:" + port(t, origin.Listener.Addr().String())
	big := strings.Repeat("b", 16<<10)
	for _, req := range []string{
		"GET http://" + target + "/ HTTP/1.1\r\nHost: " + target + "\r\nX-Big: " + big + "\r\n\r\n",
		"CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\nX-Big: " + big + "\r\n\r\n",
	} {
		resp, _, _, _ := h.raw(t, req)
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: status %d, want 431", firstLine(req), resp.StatusCode)
		}
	}
	resp, _, _, _ := h.raw(t, "GET http://"+target+"/ HTTP/1.1\r\nHost: "+target+"\r\nX-Small: "+strings.Repeat("s", 512)+"\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("small headers: status %d", resp.StatusCode)
	}
}

func TestTunnelIdleTimeout(t *testing.T) {
	echo, serverClosed := echoServer(t)
	h := startProxy(t, Config{IdleTimeout: time.Second})
	conn, br := h.connect(t, "public.test:"+port(t, echo))
	if _, err := io.WriteString(conn, "ping"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	waitClosed(t, br, conn) // nothing more is sent: the proxy closes the tunnel
	select {
	case <-serverClosed:
	case <-time.After(30 * time.Second):
		t.Fatal("server side of the tunnel still open")
	}
}

// TestTunnelHalfClose: a client that finishes sending still receives the rest of the server's answer.
func TestTunnelHalfClose(t *testing.T) {
	echo, _ := echoServer(t)
	h := startProxy(t, Config{})
	conn, br := h.connect(t, "public.test:"+port(t, echo))
	if _, err := io.WriteString(conn, "last words"); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "last words" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestServeShutdown(t *testing.T) {
	echo, serverClosed := echoServer(t)
	h := startProxy(t, Config{})
	conn, br := h.connect(t, "public.test:"+port(t, echo))
	h.stop()
	waitClosed(t, br, conn)
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
	select {
	case <-serverClosed:
	case <-time.After(30 * time.Second):
		t.Fatal("server side of the tunnel still open")
	}
	if c, err := net.Dial("tcp", h.addr); err == nil {
		_ = c.Close()
		t.Error("listener still accepting after shutdown")
	}
}

func TestServeListenerError(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	l := listen(t, "127.0.0.1")
	_ = l.Close()
	if err := p.Serve(context.Background(), l); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve on a closed listener: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	h := startProxy(t, Config{})
	tests := []struct {
		name, request string
		status        int
	}{
		{"origin form", "GET /path HTTP/1.1\r\nHost: public.test\r\n\r\n", 400},
		{"https absolute URI", "GET https://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 400},
		{"ftp", "GET ftp://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n", 400},
		{"bad port", "GET http://public.test:0/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"CONNECT without port", "CONNECT public.test HTTP/1.1\r\nHost: public.test\r\n\r\n", 400},
		{"CONNECT port 0", "CONNECT public.test:0 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"CONNECT port too big", "CONNECT public.test:65536 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"CONNECT path", "CONNECT /x HTTP/1.1\r\nHost: public.test:443\r\n\r\n", 400},
		{"CONNECT zone", "CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, _, _ := h.raw(t, tc.request)
			if resp.StatusCode != tc.status || !strings.HasPrefix(body, "Bad Request") && tc.status == 400 {
				t.Errorf("%d %q, want %d", resp.StatusCode, body, tc.status)
			}
		})
	}
}

func TestUnreachablePublicDestination(t *testing.T) {
	l := listen(t, publicAddr)
	target := "public.test:" + port(t, l.Addr().String())
	_ = l.Close()
	h := startProxy(t, Config{})
	for _, req := range []string{
		"GET http://" + target + "/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT " + target + " HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if resp, body, _, _ := h.raw(t, req); resp.StatusCode != http.StatusBadGateway || body != "Bad Gateway\n" {
			t.Errorf("%s: %d %q, want 502", firstLine(req), resp.StatusCode, body)
		}
	}
}

// TestTunnelEarlyData: bytes a client sends right behind its CONNECT request (before the 200) are relayed.
func TestTunnelEarlyData(t *testing.T) {
	echo, _ := echoServer(t)
	h := startProxy(t, Config{})
	target := "public.test:" + port(t, echo)
	resp, _, conn, br := h.raw(t, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\nearly bird")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(br); err != nil || string(got) != "early bird" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// TestForwardIdleTimeout: an origin that sends its headers and then nothing is cut after IdleTimeout, and
// the client sees a broken body rather than a short complete one.
func TestForwardIdleTimeout(t *testing.T) {
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // stalls until the proxy gives up
	}))
	h := startProxy(t, Config{IdleTimeout: time.Second})
	resp, err := h.client(nil).Get("http://public.test:" + port(t, origin.Listener.Addr().String()) + "/stall")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("body %q ended cleanly", body)
	}
	if string(body) != "partial" {
		t.Errorf("body %q", body)
	}
}

// TestRequestTimeout: an origin that never answers gets the client a 504.
func TestRequestTimeout(t *testing.T) {
	origin := serveOn(t, publicAddr, false, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	h := startProxy(t, Config{RequestTimeout: 100 * time.Millisecond})
	target := "public.test:" + port(t, origin.Listener.Addr().String())
	resp, body, _, _ := h.raw(t, "GET http://"+target+"/slow HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	if resp.StatusCode != http.StatusGatewayTimeout || body != "Gateway Timeout\n" {
		t.Errorf("%d %q, want 504", resp.StatusCode, body)
	}
}
