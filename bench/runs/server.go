package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"syscall"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// modelKey is the system model's API key (the fake checks it).
const modelKey = "sk-bench-0123456789"

// runsPerKeyPerMinute is the run route's rate limit per caller and agent: one API key per that many runs.
const runsPerKeyPerMinute = 20

// server is one `appstrate serve` process and a client of its API.
type server struct {
	url  string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	logs *lockedBuffer

	c        *http.Client
	org, app string
	keys     []string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer starts the binary on a fresh data directory, with one priced system model served by the fake
// at modelURL, limits that admit every run of the benchmark, and runs on executor.
func startServer(bin, executor, modelURL string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir, err := os.MkdirTemp("", "appstrate-bench-runs-")
	if err != nil {
		return nil, err
	}
	models, _ := json.Marshal([]map[string]any{{"id": "sys-bench", "providerId": "openai", "apiKey": modelKey,
		"baseUrl": modelURL + "/v1", "models": []map[string]any{{"modelId": "bench-model", "isDefault": true,
			"cost": map[string]float64{"input": 1, "output": 5}}}}})
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	s := &server{url: url, dir: dir, logs: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DATA_DIR=" + filepath.Join(dir, "data"),
		"PORT=" + strconv.Itoa(port), "APP_URL=" + url, "LOG_LEVEL=warn", "RUN_ADAPTER=" + executor,
		"SYSTEM_PROVIDER_KEYS=" + string(models),
		`PLATFORM_RUN_LIMITS={"per_org_global_rate_per_min":1000000,"max_concurrent_per_org":100000}`}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	jar, _ := cookiejar.New(nil)
	s.c = &http.Client{Jar: jar, Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512}}
	if err := s.waitHealthy(); err != nil {
		s.stop()
		return nil, err
	}
	if strings.Contains(s.logs.String(), "cannot start sandboxes") {
		s.stop()
		return nil, errSkip{reason: "bwrap cannot start sandboxes on this host (see `appstrate doctor`)"}
	}
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) waitHealthy() error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("server exited:\n%s", s.logs.String())
		default:
		}
		resp, err := http.Get(s.url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server not healthy after 30 s:\n%s", s.logs.String())
}

// stop interrupts the server (killing it after 30 s) and removes its directory.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	_ = os.RemoveAll(s.dir)
}

// call sends a request (JSON body unless contentType says otherwise) with the session, or with an API key
// when key is set, and decodes a 2xx answer into out.
func (s *server) call(method, path, key, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(context.Background(), method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/json"
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", s.url)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	} else if s.org != "" {
		req.Header.Set("X-Org-Id", s.org)
		req.Header.Set("X-Application-Id", s.app)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	return nil
}

func (s *server) callJSON(method, path string, body, out any) error {
	b, _ := json.Marshal(body)
	return s.call(method, path, "", "", b, out)
}

// prepare signs up, creates the organization (its default application is used), imports the agent and
// creates enough API keys for runs submissions within the run route's rate limit.
func (s *server) prepare(runs int) error {
	if err := s.callJSON(http.MethodPost, "/api/auth/sign-up/email", map[string]string{"email": "bench@bench.test",
		"password": "correct horse battery staple", "name": "Bench"}, nil); err != nil {
		return err
	}
	var org struct {
		ID string `json:"id"`
	}
	if err := s.callJSON(http.MethodPost, "/api/orgs", map[string]string{"name": "Bench", "slug": "bench"}, &org); err != nil {
		return err
	}
	s.org = org.ID
	var apps struct {
		Data []struct {
			ID        string `json:"id"`
			IsDefault bool   `json:"isDefault"`
		} `json:"data"`
	}
	if err := s.callJSON(http.MethodGet, "/api/applications", nil, &apps); err != nil {
		return err
	}
	for _, a := range apps.Data {
		if a.IsDefault {
			s.app = a.ID
		}
	}
	if s.app == "" {
		return errors.New("no default application")
	}
	if err := s.importAgent(); err != nil {
		return err
	}
	for i := 0; i < (runs+runsPerKeyPerMinute-1)/runsPerKeyPerMinute; i++ {
		var k struct {
			Key string `json:"key"`
		}
		if err := s.callJSON(http.MethodPost, "/api/api-keys", map[string]string{"name": "bench-" + strconv.Itoa(i)}, &k); err != nil {
			return err
		}
		s.keys = append(s.keys, k.Key)
	}
	return nil
}

// benchAgent is the agent run: its prompt names the run, so the fake can tell the runs apart.
var benchAgent = map[string]string{
	"manifest.json": `{"name":"@bench/pulse","version":"1.0.0","type":"agent","schemaVersion":"1.1","displayName":"Pulse",` +
		`"description":"One output call","author":"bench","dependencies":{"tools":{"@appstrate/output":"^2.0.0"}},` +
		`"output":{"schema":{"type":"object","properties":{"done":{"type":"boolean"}},"required":["done"]}}}`,
	"prompt.md": "Report that you are done. This is run {{runId}}.\n",
}

func (s *server) importAgent() error {
	files := map[string][]byte{}
	for name, content := range benchAgent {
		files[name] = []byte(content)
	}
	archive, _, err := afps.Pack(files, afps.ValidateOptions{})
	if err != nil {
		return fmt.Errorf("pack the agent: %w", err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "pulse.afps")
	_, _ = fw.Write(archive)
	_ = mw.Close()
	return s.call(http.MethodPost, "/api/packages/import", "", mw.FormDataContentType(), body.Bytes(), nil)
}

// submit posts n runs at once and returns when each was accepted.
func (s *server) submit(n int) (map[string]time.Time, error) {
	type accepted struct {
		id  string
		at  time.Time
		err error
	}
	out := make(chan accepted, n)
	for i := 0; i < n; i++ {
		go func(key string) {
			var started struct {
				RunID string `json:"runId"`
			}
			err := s.call(http.MethodPost, "/api/agents/@bench/pulse/run", key, "", []byte(`{}`), &started)
			out <- accepted{id: started.RunID, at: time.Now(), err: err}
		}(s.keys[i%len(s.keys)])
	}
	ids := map[string]time.Time{}
	var errs []error
	for i := 0; i < n; i++ {
		a := <-out
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		ids[a.id] = a.at
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d runs refused, e.g. %w", len(errs), n, errs[0])
	}
	return ids, nil
}

// submitInTurn posts n runs one after the other, each once the previous one has ended.
func (s *server) submitInTurn(n int, deadline time.Time) (map[string]time.Time, error) {
	ids := map[string]time.Time{}
	for i := 0; i < n; i++ {
		var started struct {
			RunID string `json:"runId"`
		}
		if err := s.call(http.MethodPost, "/api/agents/@bench/pulse/run", s.keys[i%len(s.keys)], "", []byte(`{}`), &started); err != nil {
			return nil, err
		}
		ids[started.RunID] = time.Now()
		for {
			var r struct {
				Status string `json:"status"`
			}
			if err := s.callJSON(http.MethodGet, "/api/runs/"+started.RunID, nil, &r); err != nil {
				return nil, err
			}
			if r.Status != "pending" && r.Status != "running" {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("out of time with run %s %s", started.RunID, r.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return ids, nil
}

// count is the total of GET /api/runs with a status.
func (s *server) count(status string) (int, error) {
	var list struct {
		Total int `json:"total"`
	}
	err := s.callJSON(http.MethodGet, "/api/runs?limit=1&status="+status, nil, &list)
	return list.Total, err
}

// waitIdle polls until no run is pending or running.
func (s *server) waitIdle(deadline time.Time) error {
	for {
		pending, err := s.count("pending")
		if err != nil {
			return err
		}
		running, err := s.count("running")
		if err != nil {
			return err
		}
		if pending+running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("out of time with %d runs pending and %d running", pending, running)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// notSucceeded counts the runs that did not succeed and prints a few of their errors.
func (s *server) notSucceeded() (int, error) {
	var list struct {
		Total int `json:"total"`
		Data  []struct {
			Status string  `json:"status"`
			Error  *string `json:"error"`
		} `json:"data"`
	}
	if err := s.callJSON(http.MethodGet, "/api/runs?limit=100", nil, &list); err != nil {
		return 0, err
	}
	succeeded, err := s.count("success")
	if err != nil {
		return 0, err
	}
	shown := 0
	for _, r := range list.Data {
		if r.Status != "success" && shown < 3 {
			msg := ""
			if r.Error != nil {
				msg = *r.Error
			}
			fmt.Fprintf(os.Stderr, "  a run ended %s: %s\n", r.Status, msg)
			shown++
		}
	}
	return list.Total - succeeded, nil
}
