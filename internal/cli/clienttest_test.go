package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/cli/profile"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/store"
)

// cliEnv is a real platform on a loopback port, a fresh home directory and the CLI's hooks pointed at them.
type cliEnv struct {
	t       *testing.T
	e       *apptest.Env
	url     string
	home    string
	env     map[string]string
	browser *oidctest.Client
	clock   *testClock
	seen    *requestLog
	srv     *httptest.Server

	approve  bool           // answer the pending device code on its second poll (approve, or deny when false)
	sleepsOf map[string]int // polls per user code
}

// requestLog records the requests the server received and the status of each answer (0 until it is sent).
type requestLog struct {
	mu       sync.Mutex
	reqs     []*http.Request
	statuses []int
}

// add records r and returns its index.
func (l *requestLog) add(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Clone(context.Background()))
	l.statuses = append(l.statuses, 0)
	return len(l.reqs) - 1
}

// answered records the status of request i (the first one written wins).
func (l *requestLog) answered(i, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statuses[i] == 0 {
		l.statuses[i] = status
	}
}

// statusOf is the status the server answered the recorded request r with (0 when not yet sent).
func (l *requestLog) statusOf(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, seen := range l.reqs {
		if seen == r {
			return l.statuses[i]
		}
	}
	return 0
}

// statusWriter passes a response through and records its status; streams (SSE) still flush.
type statusWriter struct {
	http.ResponseWriter
	log *requestLog
	i   int
}

func (w *statusWriter) WriteHeader(status int) {
	w.log.answered(w.i, status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.log.answered(w.i, http.StatusOK)
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (l *requestLog) find(method, path string) []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*http.Request
	for _, r := range l.reqs {
		if r.Method == method && r.URL.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// testClock is the device-flow clock: sleeping only advances it, and runs a hook (the browser's approval).
type testClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	onSleep func(n int)
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	n := len(c.sleeps)
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return ctx.Err()
}

// newCLIEnv starts the platform over db with APP_URL = its own loopback address.
func newCLIEnv(t *testing.T, db *store.DB) *cliEnv {
	t.Helper()
	return newCLIEnvWith(t, db, nil, nil)
}

// newCLIEnvWith is newCLIEnv with extra environment variables for the platform, and beforeServe (when not
// nil) called once the platform is assembled and its URL known, before the server accepts requests.
func newCLIEnvWith(t *testing.T, db *store.DB, env map[string]string, beforeServe func(c *cliEnv)) *cliEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cliEnv{t: t, url: "http://" + ln.Addr().String(), home: t.TempDir(), seen: &requestLog{}, approve: true}
	vars := oidctest.Env("APP_URL", c.url)
	for k, v := range env {
		vars[k] = v
	}
	c.e = apptest.New(t, db, vars)
	if beforeServe != nil {
		beforeServe(c)
	}
	handler := c.e.App.HTTP.Handler()
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(&statusWriter{ResponseWriter: w, log: c.seen, i: c.seen.add(r)}, r)
	}))
	c.srv.Listener.Close()
	c.srv.Listener = ln
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	c.browser = oidctest.NewClient(c.e)
	c.env = map[string]string{"HOME": c.home, "XDG_CONFIG_HOME": filepath.Join(c.home, "config"),
		"XDG_CACHE_HOME": filepath.Join(c.home, "cache"), "APPSTRATE_CLI_NO_OPEN": "1"}
	withEnv(t, c.env)
	c.clock = &testClock{now: time.Unix(1_800_000_000, 0), onSleep: c.onPoll}
	setHooks(t, c.srv.Client(), c.clock)
	return c
}

// setHooks points the CLI at a client and a device clock; the keyring is the system one (no D-Bus here,
// so the file fallback is used, as on a headless Linux machine).
func setHooks(t *testing.T, hc *http.Client, clock *testClock) {
	t.Helper()
	oldHTTP, oldClock, oldOpen := cliHTTP, deviceClock, openBrowser
	cliHTTP, deviceClock = hc, clock
	openBrowser = func(string) error { t.Error("a browser was opened in a test"); return nil }
	t.Cleanup(func() { cliHTTP, deviceClock, openBrowser = oldHTTP, oldClock, oldOpen })
}

// onPoll runs before each poll: the code never waits for the polling interval, and the browser answers the
// pending code before the second poll (the first one sees authorization_pending).
func (c *cliEnv) onPoll(int) {
	c.t.Helper()
	ctx := context.Background()
	var code string
	err := c.e.DB.QueryRowContext(ctx, `SELECT user_code FROM device_codes WHERE status = 'pending' ORDER BY created_at DESC LIMIT 1`).Scan(&code)
	if err == nil {
		if c.sleepsOf == nil {
			c.sleepsOf = map[string]int{}
		}
		c.sleepsOf[code]++
		if c.sleepsOf[code] == 2 {
			c.browser.IP = oidctest.FreshIP() // the approval route allows 5 per IP per 15 min
			if res := c.browser.Answer(code, c.approve); res.Status != http.StatusOK {
				c.t.Fatalf("answer the code: %d %s", res.Status, res.Body)
			}
		}
	}
	if _, err := c.e.DB.ExecContext(ctx, `UPDATE device_codes SET last_polled_at = NULL`); err != nil {
		c.t.Fatal(err)
	}
}

// signIn seeds a user whose browser session approves codes.
func (c *cliEnv) signIn(email string) string {
	id := c.e.SeedUser(email)
	c.browser.SignIn(id)
	return id
}

// run executes the CLI in-process, as Main does, with stdin.
func (c *cliEnv) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	return runCLI(stdin, args...)
}

func runCLI(stdin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	root := NewRoot()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.Execute()
	if err == nil {
		return 0, stdout.String(), stderr.String()
	}
	stderr.WriteString("appstrate: " + err.Error() + "\n")
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code, stdout.String(), stderr.String()
	}
	return ExitFailure, stdout.String(), stderr.String()
}

// mustRun fails the test unless the command exits with want.
func (c *cliEnv) mustRun(want int, args ...string) (string, string) {
	c.t.Helper()
	code, out, errOut := c.run("", args...)
	if code != want {
		c.t.Fatalf("appstrate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

func (c *cliEnv) configDir() string { return filepath.Join(c.home, "config", "appstrate") }

func (c *cliEnv) readFile(name string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.configDir(), name))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// storedTokens reads the credentials file.
func (c *cliEnv) storedTokens(name string) *profile.Tokens {
	c.t.Helper()
	s := &profile.Store{Dir: c.configDir()}
	t, err := s.Load(name)
	if err != nil {
		c.t.Fatal(err)
	}
	return t
}
