package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/executor/process"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
	"github.com/appstrate/appstrate-go/internal/oidc/oidctest"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// TestRealBinaryWalk builds cmd/appstrate and drives it as a user would: `login` runs in the background with
// the real clock (the server's 2 s interval), the displayed code is approved over HTTP by a signed-in
// browser, then whoami, token, org list, app current, api, openapi list twice, run @acme/hello-world --json
// (executed by the platform through the process executor, the model being the fake LLM) and logout. No
// D-Bus here: the tokens go to credentials.json with the one-line warning.
func TestRealBinaryWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the file fallback is not used on Windows")
	}
	bin := filepath.Join(t.TempDir(), "appstrate")
	build := exec.Command("go", "build", "-o", bin, "github.com/appstrate/appstrate-go/cmd/appstrate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	llm := llmtest.New(t, llmtest.Script{APIKey: walkModelKey, Match: "Greet", Turns: []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"greeting":"Hello, Ada!","language":"English"}}`}}},
		{Text: "Done."},
	}})
	c := newCLIEnvWith(t, storetest.SQLite(t), map[string]string{"SYSTEM_PROVIDER_KEYS": walkSystemModel(llm.URL)},
		func(c *cliEnv) { executeRuns(t, c, bin) })
	userID := c.signIn("ada@example.com")
	orgID, appID := c.e.SeedOrg(userID, "acme")
	if err := packages.InstallHelloWorld(context.Background(), c.e.DB, orgID, appID, userID); err != nil {
		t.Fatal(err) // what creating the organization through the API does
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "XDG_CONFIG_HOME=" + c.env["XDG_CONFIG_HOME"],
		"XDG_CACHE_HOME=" + c.env["XDG_CACHE_HOME"], "APPSTRATE_CLI_NO_OPEN=1"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	login := exec.CommandContext(ctx, bin, "login", "--instance", c.url)
	login.Env = env
	stdout, err := login.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	login.Stderr = &stderr
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	codeLine := regexp.MustCompile(`^  Code:  ([A-Z]{4}-[A-Z]{4})$`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
		if m := codeLine.FindStringSubmatch(sc.Text()); m != nil {
			c.browser.IP = oidctest.FreshIP()
			if res := c.browser.Answer(m[1], true); res.Status != http.StatusOK {
				t.Fatalf("approve %s: %d %s", m[1], res.Status, res.Body)
			}
			break
		}
	}
	for sc.Scan() {
		shown.WriteString(sc.Text() + "\n")
	}
	if err := login.Wait(); err != nil {
		t.Fatalf("login: %v\nstdout: %s\nstderr: %s", err, shown.String(), stderr.String())
	}
	if !strings.Contains(shown.String(), `Logged in as ada@example.com to "acme" (`+orgID+`) / app "Default" (`+appID+")") ||
		strings.Count(stderr.String(), "[appstrate] OS keyring") != 1 {
		t.Fatalf("stdout: %s\nstderr: %s", shown.String(), stderr.String())
	}

	run := func(want int, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("appstrate %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out.String(), errOut.String())
		}
		return out.String()
	}
	if out := run(0, "whoami"); !strings.Contains(out, "User:     ada@example.com\n") {
		t.Fatal(out)
	}
	if out := run(0, "token"); !strings.Contains(out, "  azp:              appstrate-cli\n") {
		t.Fatal(out)
	}
	if out := run(0, "org", "list"); !strings.HasPrefix(out, "* acme") {
		t.Fatal(out)
	}
	if out := run(0, "app", "current"); out != appID+"\n" {
		t.Fatal(out)
	}
	if out := run(0, "api", "GET", "/api/agents", "-w", `\n%{http_code}`); !strings.HasSuffix(out, "\n200") {
		t.Fatal(out)
	}
	first := run(0, "openapi", "list", "--tag", "Organizations")
	if second := run(0, "openapi", "list", "--tag", "Organizations"); first != second || !strings.Contains(first, "/api/orgs") {
		t.Fatalf("%q\n%q", first, second)
	}
	checkRemoteRun(t, c, run(0, "run", "@acme/hello-world", "--json", "--input", "name=Ada"))
	if out := run(0, "logout"); out != "Signed out of \"default\".\n" {
		t.Fatal(out)
	}
	run(1, "whoami")
}

// walkModelKey is the key of the fake LLM: only the sidecar of a run ever holds it.
const walkModelKey = "sk-test-WALK-0123456789"

// walkSystemModel is SYSTEM_PROVIDER_KEYS with one default model served by the fake LLM at llmURL.
func walkSystemModel(llmURL string) string {
	b, err := json.Marshal([]map[string]any{{"id": "sys-openai", "providerId": "openai", "apiKey": walkModelKey,
		"baseUrl": llmURL + "/v1", "models": []map[string]any{{"modelId": "gpt-test", "label": "GPT Test", "isDefault": true}}}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// executeRuns makes c's platform execute runs as `appstrate serve` does: the system packages loaded, the job
// client started with the run worker, sidecars and runners started from bin by the process executor, and
// reporting to c's URL.
func executeRuns(t *testing.T, c *cliEnv, bin string) {
	t.Helper()
	a := c.e.App
	a.SyncSystemPackages(t.Context())
	if err := jobs.Migrate(t.Context(), a.DB, nil); err != nil {
		t.Fatal(err)
	}
	a.Runs.Executor = &process.Executor{Binary: bin, RunsDir: filepath.Join(t.TempDir(), "runs"), Logger: a.Logger}
	a.Runs.Sink.PlatformURL = c.url
	if err := a.Runs.RegisterWorker(a.Jobs); err != nil {
		t.Fatal(err)
	}
	if err := a.Jobs.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Jobs.Stop(ctx); err != nil {
			t.Errorf("stop jobs: %v", err)
		}
	})
}

// checkRemoteRun checks the JSONL of `run @acme/hello-world --json`: triggered, the run's events, the greeting
// emitted, then a successful finalize; and that the CLI followed the run on its realtime stream, opened with
// the login's JWT as ?token=.
func checkRemoteRun(t *testing.T, c *cliEnv, stdout string) {
	t.Helper()
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("run --json: a line is not JSON: %q (%v)", sc.Text(), err)
		}
		events = append(events, e)
	}
	if len(events) < 3 || events[0]["type"] != "appstrate.remote.triggered" || events[len(events)-1]["type"] != "appstrate.finalize" {
		t.Fatalf("run --json:\n%s", stdout)
	}
	runID, _ := events[0]["runId"].(string)
	emitted := false
	for _, e := range events[1 : len(events)-1] {
		if e["runId"] != runID {
			t.Fatalf("event of another run: %v", e)
		}
		if data, _ := e["data"].(map[string]any); e["type"] == "output.emitted" && data["greeting"] == "Hello, Ada!" {
			emitted = true
		}
	}
	result, _ := events[len(events)-1]["result"].(map[string]any)
	output, _ := result["output"].(map[string]any)
	if !strings.HasPrefix(runID, "run_") || !emitted || result["status"] != "success" || output["greeting"] != "Hello, Ada!" {
		t.Fatalf("run --json:\n%s", stdout)
	}
	streams := c.seen.find(http.MethodGet, "/api/realtime/runs/"+runID)
	if len(streams) == 0 {
		t.Fatal("the CLI did not open the run's realtime stream")
	}
	for _, r := range streams {
		token := r.URL.Query().Get("token")
		if strings.Count(token, ".") != 2 || strings.HasPrefix(token, "ask_") {
			t.Fatalf("the realtime stream was opened with %q, not the login's JWT", token)
		}
		if status := c.seen.statusOf(r); status != http.StatusOK {
			t.Fatalf("the realtime stream answered %d to the JWT: the CLI fell back to polling", status)
		}
	}
}
