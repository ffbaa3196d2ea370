package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/appstrate once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "appstrate-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "appstrate")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/appstrate")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// platform is one `appstrate serve` process (restartable on the same data directory and port).
type platform struct {
	t    *testing.T
	URL  string
	Dir  string
	logs *lockedWriter
	c    *http.Client
	org  string
	app  string

	env  []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPlatform runs `appstrate serve` on a fresh data directory with env on top of a minimal environment.
func startPlatform(t *testing.T, env map[string]string) *platform {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	vars := map[string]string{"PATH": os.Getenv("PATH"), "HOME": dir, "DATA_DIR": filepath.Join(dir, "data"),
		"PORT": strconv.Itoa(port), "APP_URL": url, "LOG_LEVEL": "debug"}
	for k, v := range env {
		vars[k] = v
	}
	jar, _ := cookiejar.New(nil)
	p := &platform{t: t, URL: url, Dir: dir, logs: &lockedWriter{w: &bytes.Buffer{}}, // one lock for both streams and for reading
		c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	for k, v := range vars {
		p.env = append(p.env, k+"="+v)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("server logs:\n%s", p.logs.String())
		}
	})
	p.start()
	return p
}

// start starts the server process and waits until it is healthy.
func (p *platform) start() {
	p.t.Helper()
	cmd := exec.Command(binary(p.t), "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server not healthy: %v\n%s", err, p.logs.String())
		}
		select {
		case <-done:
			p.t.Fatalf("server exited:\n%s", p.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop interrupts the server and waits for it to exit (killing it after 20 s).
func (p *platform) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 kills the server with SIGKILL, as a crash would: its runners and sidecars, in their own process
// groups, are left behind.
func (p *platform) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
	_, _ = p.logs.Write([]byte("\n---- e2e: server killed with SIGKILL ----\n"))
}

// lockedWriter is the server's output, written by the stdout and stderr copiers and read by the test.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// do sends a JSON request with the session cookie and the org/app context; it fails the test unless the
// status is want, and decodes the answer into out (when not nil).
func (p *platform) do(method, path string, body any, want int, out any) {
	p.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	p.send(method, path, "application/json", raw, want, out)
}

// send is do with a body of any content type (nil = none).
func (p *platform) send(method, path, contentType string, body []byte, want int, out any) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, p.URL+path, rd)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", p.URL)
	if p.org != "" {
		req.Header.Set("X-Org-Id", p.org)
	}
	if p.app != "" {
		req.Header.Set("X-Application-Id", p.app)
	}
	resp, err := p.c.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		p.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// importPackage packs files (manifest.json, prompt.md, …) into an archive and imports it through the registry
// API (POST /api/packages/import), which publishes its version and installs it in the current application.
func (p *platform) importPackage(files map[string]string) string {
	p.t.Helper()
	raw := map[string][]byte{}
	for name, content := range files {
		raw[name] = []byte(content)
	}
	archive, _, err := afps.Pack(raw, afps.ValidateOptions{})
	if err != nil {
		p.t.Fatalf("pack: %v", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "agent.afps")
	_, _ = fw.Write(archive)
	_ = mw.Close()
	var imported struct {
		PackageID string `json:"packageId"`
	}
	p.send(http.MethodPost, "/api/packages/import", mw.FormDataContentType(), body.Bytes(), http.StatusCreated, &imported)
	return imported.PackageID
}

// startRun runs an agent ("@scope/name") with a JSON body and an optional query ("?timeout=1") and returns
// the run id.
func (p *platform) startRun(agent, query string, body any) string {
	p.t.Helper()
	var started struct {
		RunID string `json:"runId"`
	}
	p.do(http.MethodPost, "/api/agents/"+agent+"/run"+query, body, http.StatusOK, &started)
	return started.RunID
}

// signUp creates a user and an organization (slug) and selects its default application.
func (p *platform) signUp(slug string) {
	p.t.Helper()
	p.do(http.MethodPost, "/api/auth/sign-up/email", map[string]string{"email": "owner@" + slug + ".test",
		"password": "correct horse battery staple", "name": "Owner"}, http.StatusOK, nil)
	var org struct {
		ID string `json:"id"`
	}
	p.do(http.MethodPost, "/api/orgs", map[string]string{"name": strings.ToUpper(slug[:1]) + slug[1:], "slug": slug},
		http.StatusCreated, &org)
	p.org = org.ID
	var apps struct {
		Data []struct {
			ID        string `json:"id"`
			IsDefault bool   `json:"isDefault"`
		} `json:"data"`
	}
	p.do(http.MethodGet, "/api/applications", nil, http.StatusOK, &apps)
	for _, a := range apps.Data {
		if a.IsDefault {
			p.app = a.ID
		}
	}
	if p.app == "" {
		p.t.Fatalf("no default application in %+v", apps)
	}
}

// run is the part of a run the tests look at.
type run struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Error      *string         `json:"error"`
	Result     json.RawMessage `json:"result"`
	TokenUsage json.RawMessage `json:"tokenUsage"`
	Cost       *float64        `json:"cost"`
}

// getRun reads a run.
func (p *platform) getRun(id string) run {
	p.t.Helper()
	var r run
	p.do(http.MethodGet, "/api/runs/"+id, nil, http.StatusOK, &r)
	return r
}

// waitRun polls the run until it is terminal.
func (p *platform) waitRun(id string) run {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r run
		p.do(http.MethodGet, "/api/runs/"+id, nil, http.StatusOK, &r)
		switch r.Status {
		case "success", "failed", "timeout", "cancelled":
			return r
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("run %s still %s", id, r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logs returns the log rows of a run.
func (p *platform) runLogs(id string) []map[string]any {
	p.t.Helper()
	var out []map[string]any
	var raw json.RawMessage
	p.do(http.MethodGet, "/api/runs/"+id+"/logs", nil, http.StatusOK, &raw)
	if err := json.Unmarshal(raw, &out); err != nil {
		var list struct {
			Data []map[string]any `json:"data"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			p.t.Fatalf("logs: %s", raw)
		}
		out = list.Data
	}
	return out
}

// sub is the platform seen from a subtest: its failures are the subtest's.
func (p *platform) sub(t *testing.T) *platform {
	c := *p
	c.t = t
	return &c
}
