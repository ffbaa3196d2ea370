package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/executor/bwrap"
	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

const providerKey = "fc-PROVIDER-SECRET-9f8e7d6c5b4a"

var runIDPattern = regexp.MustCompile(`run_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// serverSecrets are the generated secrets of a data directory (secrets.json values).
func serverSecrets(t *testing.T, dataDir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var generated map[string]any
	if err := json.Unmarshal(b, &generated); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range generated {
		if s, ok := v.(string); ok && len(s) >= 16 {
			out = append(out, s)
		}
	}
	if len(out) < 2 {
		t.Fatalf("secrets.json holds no secrets to look for: %s", b)
	}
	return out
}

// environOf reads a process's environment as a map.
func environOf(pid int) map[string]string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	env := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// TestRunnerNeverHoldsASecret runs an agent that depends on a connected provider and makes it dump, through
// bash, its environment (its own and the runner's), every file of its work directory, run directory, home and
// temporary directory. Nothing it sees — nor any request body that reached the model, nor the run's logs —
// contains the model key, the provider's API key, a server secret (secrets.json) or the sidecar's run token.
func TestRunnerNeverHoldsASecret(t *testing.T) {
	for _, executor := range []string{"process", "bwrap"} {
		t.Run(executor, func(t *testing.T) {
			if _, err := exec.LookPath("bwrap"); err != nil && executor == "bwrap" {
				t.Skip("bwrap (bubblewrap) is not installed")
			}
			runnerSecrecy(t, executor)
		})
	}
}

// dumps are the bash commands of the agent: what each must show (proof that it looked) besides no secret.
var dumps = []struct {
	name, command, shows string
}{
	{"environment", `env; echo ---; tr '\0' '\n' < /proc/$PPID/environ; echo; echo "runner=$(tr '\0' ' ' < /proc/$PPID/cmdline)"`,
		"runner=/"},
	{"work directory", `pwd; ls -laR .; find . -type f -size -1000k -exec sh -c 'echo "== $1"; cat "$1"' _ {} \;`,
		"== ./.appstrate/prompt.md"},
	{"run, home and temporary directories", `up=$(dirname "$PWD"); [ "$up" = / ] && up=/run; echo "dirs: $HOME ${TMPDIR:-/tmp} $up"; ` +
		`find "$HOME" "${TMPDIR:-/tmp}" "$up" -maxdepth 3 -type f -size -1000k 2>/dev/null | sort -u | ` +
		`while read -r f; do echo "== $f"; head -c 16384 "$f"; echo; done`,
		"dirs: "},
}

func runnerSecrecy(t *testing.T, executor string) {
	var mu sync.Mutex
	var runToken string // the sidecar's, read from its environment while the run is in flight
	var dataDir string
	observe := func(r llmtest.Request) {
		id := runIDPattern.FindString(r.System)
		runs := filepath.Join(dataDir, "runs")
		if executor == "bwrap" {
			runs = bwrap.RunsDir(dataDir)
		}
		b, _ := os.ReadFile(filepath.Join(runs, id, "sidecar.pid"))
		var pid int
		_, _ = fmt.Sscan(string(b), &pid)
		mu.Lock()
		defer mu.Unlock()
		runToken = environOf(pid)["RUN_TOKEN"]
	}
	var turns []llmtest.Turn
	for i, d := range dumps {
		raw, _ := json.Marshal(map[string]any{"command": d.command})
		call := llmtest.Turn{ToolCalls: []llmtest.ToolCall{{ID: fmt.Sprintf("call_dump_%d", i), Name: "bash", Args: string(raw)}}}
		if i == 0 {
			first := call
			call = llmtest.Turn{Reply: func(r llmtest.Request) llmtest.Turn { observe(r); return first }}
		}
		turns = append(turns, call)
	}
	turns = append(turns,
		llmtest.Turn{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"summary":"looked everywhere","count":3}}`}}},
		llmtest.Turn{Text: "Done."})
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: turns})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": executor})
	dataDir = filepath.Join(p.Dir, "data")
	p.signUp("acme")

	// A system provider connected with an API key, which the agent depends on: the sidecar can inject it into
	// provider calls; the runner must never see it.
	p.do(http.MethodPut, "/api/providers/credentials/@appstrate/firecrawl", map[string]any{"enabled": true}, http.StatusOK, nil)
	p.do(http.MethodPost, "/api/connections/connect/@appstrate/firecrawl/api-key", map[string]any{"apiKey": providerKey}, http.StatusOK, nil)
	files := agentFiles("@acme/snoop")
	var manifest map[string]any
	_ = json.Unmarshal([]byte(files["manifest.json"]), &manifest)
	manifest["dependencies"].(map[string]any)["providers"] = map[string]string{"@appstrate/firecrawl": "^1.0.0"}
	b, _ := json.Marshal(manifest)
	files["manifest.json"] = string(b)
	agent := p.importPackage(files)

	id := p.startRun(agent, "", map[string]any{"input": map[string]any{"job": "a look around"}})
	r := p.waitRun(id)
	if r.Status != "success" {
		t.Fatalf("run = %+v (error %q)\nlogs: %v", r, deref(r.Error), p.runLogs(id))
	}
	mu.Lock()
	secrets := map[string]string{"the model key": realKey, "the provider's API key": providerKey, "the sidecar's run token": runToken}
	mu.Unlock()
	if secrets["the sidecar's run token"] == "" {
		t.Fatal("the sidecar's run token could not be read from its environment")
	}
	for i, s := range serverSecrets(t, dataDir) {
		secrets[fmt.Sprintf("server secret #%d of secrets.json", i+1)] = s
	}

	reqs := llm.Requests()
	if !strings.Contains(reqs[0].System, "firecrawl") {
		t.Errorf("the prompt does not list the connected provider:\n%s", reqs[0].System)
	}
	for i, d := range dumps {
		got, ok := toolResult(reqs, fmt.Sprintf("call_dump_%d", i))
		switch {
		case !ok:
			t.Errorf("%s: no tool result reached the model", d.name)
			continue
		case !strings.Contains(got.Content, d.shows):
			t.Errorf("%s: the command did not run as expected (no %q):\n%s", d.name, d.shows, got.Content)
		case strings.Contains(got.Content, "[output truncated"):
			t.Errorf("%s: the output was truncated, so it was not all scanned", d.name)
		}
		for what, s := range secrets {
			if strings.Contains(got.Content, s) {
				t.Errorf("%s: %s is visible to the agent:\n%s", d.name, what, got.Content)
			}
		}
		if testing.Verbose() {
			t.Logf("%s:\n$ %s\n%s", d.name, d.command, got.Content)
		}
	}
	for _, req := range reqs { // (the model key is in the headers the sidecar sends, never in a body)
		for what, s := range secrets {
			if req.Contains(s) {
				t.Errorf("%s is in a request body that reached the model", what)
			}
		}
	}
	logs, _ := json.Marshal(p.runLogs(id))
	for what, s := range secrets {
		if strings.Contains(string(logs), s) {
			t.Errorf("%s is in the run's logs", what)
		}
	}
}
