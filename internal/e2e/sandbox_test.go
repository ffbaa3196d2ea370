package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// attack is one hostile bash command of the agent and what its result must show.
type attack struct {
	name    string
	command string
	// check returns what is wrong with the tool result ("" = the attempt failed as it must).
	check   func(result string) string
	timeout int // seconds, 0 = the tool's default
}

func mustContain(want ...string) func(string) string {
	return func(result string) string {
		for _, w := range want {
			if strings.Contains(result, w) {
				return ""
			}
		}
		return fmt.Sprintf("result lacks any of %q", want)
	}
}

func mustNotContain(bad ...string) func(string) string {
	return func(result string) string {
		for _, b := range bad {
			if strings.Contains(result, b) {
				return fmt.Sprintf("result contains %q", b)
			}
		}
		return ""
	}
}

func both(checks ...func(string) string) func(string) string {
	return func(result string) string {
		for _, c := range checks {
			if msg := c(result); msg != "" {
				return msg
			}
		}
		return ""
	}
}

// TestHostileAgentStaysInItsSandbox runs the starter agent on the namespace executor with a model that makes
// it attack its host through bash: read the server's data directory, the host's environment and other
// runs' work directories; connect to the server, to a loopback service of the host and to private
// addresses; fork-bomb; fill the disk; escape into a new user namespace; overwrite the appstrate binary.
// Every attempt fails, the run still finishes, and no secret of the server (its generated secrets, the real
// model key) reaches anything the sandbox returned.
func TestHostileAgentStaysInItsSandbox(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bwrap (bubblewrap) is not installed: apt-get install bubblewrap to run the sandbox acceptance test")
	}
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{{Text: "not scripted yet"}}})
	hostService := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("HOST-SERVICE-REACHED"))
	}))
	defer hostService.Close()
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "bwrap"})
	p.signUp("acme")
	if !strings.Contains(p.logs.String(), "runs: executor bwrap") {
		t.Fatalf("the server did not choose the bwrap executor:\n%s", p.logs.String())
	}

	dataDir := filepath.Join(p.Dir, "data")
	secrets := []string{realKey}
	var generated map[string]any
	b, err := os.ReadFile(filepath.Join(dataDir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &generated); err != nil {
		t.Fatal(err)
	}
	for _, v := range generated {
		if s, ok := v.(string); ok && len(s) >= 16 {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) < 3 {
		t.Fatalf("secrets.json holds no secrets to look for: %s", b)
	}
	runsDir := bwrap.RunsDir(dataDir)
	proxy := "--noproxy '' -x http://127.0.0.1:8081"
	notOK := mustNotContain("200", "HOST-SERVICE-REACHED", `"status"`)
	attacks := []attack{
		{"data directory", "cat " + dataDir + "/secrets.json; ls -la " + dataDir + " " + dataDir + "/appstrate.db",
			mustContain("No such file or directory"), 0},
		{"host environment", "env; echo ---; tr '\\0' '\\n' < /proc/1/environ; echo ---; cat /proc/[0-9]*/environ | tr '\\0' '\\n' | sort -u; ls /proc",
			mustNotContain("DATA_DIR", "SYSTEM_PROVIDER_KEYS", "LOG_LEVEL=debug"), 0},
		{"other runs", "ls -la " + runsDir + " " + filepath.Dir(runsDir) + "; ls -la /run/appstrate",
			both(mustContain("No such file or directory"), mustNotContain("sidecar.log", "runner.log", "run_")), 0},
		{"the server directly", "curl -sS -m 5 -o /dev/null -w '%{http_code}\\n' " + p.URL + "/health", both(mustContain("curl: (7)"), notOK), 0},
		{"the server through the proxy", "curl -sS -m 5 -w '%{http_code}\\n' " + proxy + " " + p.URL + "/api/runs", both(mustContain("403"), notOK), 0},
		{"a loopback service of the host", "curl -sS -m 5 " + hostService.URL + "; curl -sS -m 5 " + proxy + " " + hostService.URL,
			both(mustContain("curl: (7)"), mustContain("Blocked: internal network"), notOK), 0},
		{"private addresses", "curl -sS -m 5 -w '%{http_code}\\n' http://10.1.2.3/; curl -sS -m 5 -w '%{http_code}\\n' http://169.254.169.254/latest/meta-data/",
			both(mustContain("403"), notOK), 0},
		{"a fork bomb", "bomb() { bomb | bomb & }; bomb; sleep 60", nil, 5},
		{"after the fork bomb", "echo still-alive", mustContain("still-alive"), 0},
		{"filling the workspace", "dd if=/dev/zero of=/workspace/fill bs=1M count=3000; rm -f /workspace/fill",
			mustContain("No space left on device", "File too large"), 0},
		{"filling /tmp", "dd if=/dev/zero of=/tmp/fill bs=1M count=3000; rm -f /tmp/fill",
			mustContain("No space left on device", "File too large"), 0},
		{"a new user namespace", "unshare -Ur id; echo rc=$?", both(mustNotContain("uid=0"), mustContain("rc=1")), 0},
		{"the appstrate binary", "echo x > /run/appstrate/appstrate; echo x > /usr/bin/curl", mustContain("Read-only file system"), 0},
	}
	// attack checks may be nil only when the attempt is judged by the next one (the fork bomb)
	for i := range attacks {
		if attacks[i].check == nil {
			attacks[i].check = func(string) string { return "" }
		}
	}
	var turns []llmtest.Turn
	for i, a := range attacks {
		args := map[string]any{"command": a.command}
		if a.timeout > 0 {
			args["timeout"] = a.timeout
		}
		raw, _ := json.Marshal(args)
		turns = append(turns, llmtest.Turn{ToolCalls: []llmtest.ToolCall{{ID: fmt.Sprintf("call_attack_%d", i), Name: "bash", Args: string(raw)}}})
	}
	turns = append(turns,
		llmtest.Turn{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"greeting":"Hello, Ada!","language":"English"}}`}}},
		llmtest.Turn{Text: "Done."})
	llm.SetScripts(llmtest.Script{APIKey: realKey, Turns: turns})

	var started struct {
		RunID string `json:"runId"`
	}
	p.do(http.MethodPost, "/api/agents/@acme/hello-world/run", map[string]any{"input": map[string]any{"name": "Ada"}},
		http.StatusOK, &started)
	r := p.waitRun(started.RunID)
	if r.Status != "success" {
		t.Fatalf("run = %+v (error %v)\nlogs: %v", r, deref(r.Error), p.runLogs(started.RunID))
	}

	results := map[string]string{}
	for _, req := range llm.Requests() {
		for _, tr := range req.LastToolResults() {
			results[tr.CallID] = tr.Content
		}
	}
	for i, a := range attacks {
		got, ok := results[fmt.Sprintf("call_attack_%d", i)]
		if !ok {
			t.Errorf("%s: no tool result reached the model", a.name)
			continue
		}
		if msg := a.check(got); msg != "" {
			t.Errorf("%s: %s\n$ %s\n%s", a.name, msg, a.command, got)
		}
		for _, s := range secrets {
			if strings.Contains(got, s) {
				t.Errorf("%s: a server secret reached the sandbox's output:\n%s", a.name, got)
			}
		}
	}
	if t.Failed() || testing.Verbose() {
		for i, a := range attacks {
			t.Logf("%s:\n$ %s\n%s", a.name, a.command, results[fmt.Sprintf("call_attack_%d", i)])
		}
	}
	// The server is still healthy and its data directory intact.
	resp, err := http.Get(p.URL + "/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("server unhealthy after the run: %v", err)
	}
	resp.Body.Close()
}
