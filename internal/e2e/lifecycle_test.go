package e2e_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// proc is a live process seen in /proc.
type proc struct {
	pid, pgid int
	cwd, cmd  string
}

func (p proc) String() string {
	return fmt.Sprintf("%d (group %d, %s) in %s", p.pid, p.pgid, p.cmd, p.cwd)
}

// processes lists the live processes of this machine (zombies, already dead, are left out).
func processes() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, the last ")" ends it.
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
			continue
		}
		pgid, _ := strconv.Atoi(fields[2])
		cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd")
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out = append(out, proc{pid: pid, pgid: pgid, cwd: strings.TrimSuffix(cwd, " (deleted)"),
			cmd: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))})
	}
	return out
}

// runProcesses are the live processes of a run: members of the process groups whose leaders are in pids, and
// anything working inside the run directory (the runner's bash commands have groups of their own).
func runProcesses(dir string, pids ...int) []proc {
	var out []proc
	for _, p := range processes() {
		inDir := p.cwd == dir || strings.HasPrefix(p.cwd, dir+string(filepath.Separator))
		inGroup := false
		for _, g := range pids {
			inGroup = inGroup || (g > 0 && p.pgid == g)
		}
		if inDir || inGroup {
			out = append(out, p)
		}
	}
	return out
}

// readPid reads the pid file of a role in a run directory of the process executor.
func readPid(t *testing.T, dir, role string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, role+".pid"))
	if err != nil {
		t.Fatalf("pid file of the %s: %v", role, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file of the %s: %q", role, b)
	}
	return pid
}

// waitFor polls cond every 5 ms until it holds or limit passes; it says whether it held.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// arrivals signals each first model request of a conversation matching a script (Reply runs before the
// turn's Delay, when the request has reached the fake).
func arrivals(turn llmtest.Turn) (llmtest.Turn, <-chan struct{}) {
	ch := make(chan struct{}, 64)
	reply := turn
	return llmtest.Turn{Reply: func(llmtest.Request) llmtest.Turn {
		ch <- struct{}{}
		return reply
	}}, ch
}

func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

// TestCancelStopsTheRunnerWithinASecond cancels runs of the process executor while the model is answering and
// while a bash command of the agent runs: the run ends `cancelled`, the runner's process group and every
// process working in the run directory are gone within a second of the cancel, the sidecar soon after. A run
// with a one-second timeout ends `timeout` and leaves no process either.
func TestCancelStopsTheRunnerWithinASecond(t *testing.T) {
	thinking, modelCalled := arrivals(llmtest.Turn{Delay: 10 * time.Minute, Text: "too late"})
	timing, timedCalled := arrivals(llmtest.Turn{Delay: 10 * time.Minute, Text: "too late"})
	llm := llmtest.New(t,
		llmtest.Script{APIKey: realKey, Match: "Greet **Slow**", Turns: []llmtest.Turn{thinking}},
		llmtest.Script{APIKey: realKey, Match: "Greet **Late**", Turns: []llmtest.Turn{timing}},
		llmtest.Script{APIKey: realKey, Match: "Greet **Sleepy**", Turns: []llmtest.Turn{
			{ToolCalls: []llmtest.ToolCall{{Name: "bash", Args: `{"command":"sleep 600; echo woke","timeout":900}`}}},
			{Text: "too late"},
		}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process"})
	p.signUp("acme")
	runsDir := filepath.Join(p.Dir, "data", "runs")

	for _, tc := range []struct {
		name, who string
		started   func(t *testing.T, dir string)
	}{
		{"while the model answers", "Slow", func(t *testing.T, _ string) { await(t, modelCalled, "the model request") }},
		{"while bash runs", "Sleepy", func(t *testing.T, dir string) {
			if !waitFor(60*time.Second, func() bool {
				for _, pr := range runProcesses(dir) {
					if strings.HasPrefix(pr.cmd, "sleep 600") {
						return true
					}
				}
				return false
			}) {
				t.Fatalf("the bash command never started: %v", runProcesses(dir))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := p.sub(t)
			id := p.startRun("@acme/hello-world", "", map[string]any{"input": map[string]any{"name": tc.who}})
			dir := filepath.Join(runsDir, id)
			tc.started(t, dir)
			runner, sidecar := readPid(t, dir, "runner"), readPid(t, dir, "sidecar")
			before := runProcesses(dir, runner, sidecar)
			if len(before) < 2 {
				t.Fatalf("the run's processes are not visible: %v", before)
			}

			p.do(http.MethodPost, "/api/runs/"+id+"/cancel", nil, http.StatusOK, nil)
			cancelled := time.Now()
			if !waitFor(time.Second, func() bool { return len(runProcesses(dir, runner)) == 0 }) {
				t.Fatalf("1 s after the cancel the runner's processes are still there: %v (before: %v)", runProcesses(dir, runner), before)
			}
			t.Logf("the runner's processes were gone %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
			if !waitFor(15*time.Second, func() bool { return len(runProcesses(dir, runner, sidecar)) == 0 }) {
				t.Errorf("the sidecar outlived its run: %v", runProcesses(dir, runner, sidecar))
			}
			if r := p.waitRun(id); r.Status != "cancelled" {
				t.Errorf("run = %+v (error %q), want cancelled", r, deref(r.Error))
			}
			// A cancel of a terminal run is refused.
			p.do(http.MethodPost, "/api/runs/"+id+"/cancel", nil, http.StatusConflict, nil)
		})
	}

	t.Run("timeout", func(t *testing.T) {
		p := p.sub(t)
		id := p.startRun("@acme/hello-world", "?timeout=1", map[string]any{"input": map[string]any{"name": "Late"}})
		r := p.waitRun(id)
		if r.Status != "timeout" || !strings.Contains(deref(r.Error), "timed out") {
			t.Errorf("run = %+v (error %q), want timeout", r, deref(r.Error))
		}
		dir := filepath.Join(runsDir, id)
		if !waitFor(15*time.Second, func() bool { return len(runProcesses(dir)) == 0 }) {
			t.Errorf("processes of the timed-out run remain: %v", runProcesses(dir))
		}
		select { // the model was reached, or the run timed out before (both end the same way)
		case <-timedCalled:
		default:
			t.Logf("the run timed out before its model request")
		}
	})
}

// TestEveryRunEndsAfterAServerCrash kills the server with SIGKILL while 20 runs wait for a slow model, and
// starts it again on the same data directory: no process of those runs is left, and every run reaches a terminal state within a bounded time (the watchdog, with a 3 s stall threshold here);
// none stays pending or running.
func TestEveryRunEndsAfterAServerCrash(t *testing.T) {
	const inFlight = 20
	slow, called := arrivals(llmtest.Turn{Delay: 10 * time.Minute, Text: "too late"})
	llm := llmtest.New(t, llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{slow}})
	p := startPlatform(t, map[string]string{"SYSTEM_PROVIDER_KEYS": systemModel(llm.URL), "RUN_ADAPTER": "process",
		"RUN_HEARTBEAT_INTERVAL_SECONDS": "1", "RUN_STALL_THRESHOLD_SECONDS": "3", "RUN_WATCHDOG_INTERVAL_SECONDS": "1"})
	p.signUp("acme")
	runsDir := filepath.Join(p.Dir, "data", "runs")

	ids := make([]string, inFlight)
	for i := range ids {
		ids[i] = p.startRun("@acme/hello-world", "", map[string]any{"input": map[string]any{"name": fmt.Sprintf("Crash %d", i)}})
	}
	for range ids {
		await(t, called, "a model request of every run")
	}
	var runners []int
	for _, id := range ids {
		if r := p.getRun(id); r.Status != "running" {
			t.Fatalf("run %s is %s before the crash", id, r.Status)
		}
		runners = append(runners, readPid(t, filepath.Join(runsDir, id), "runner"))
	}

	p.kill9()
	// (The runners and sidecars die with the server — their parent-death signal — else the restart reaps them.)
	t.Logf("%d processes of the runs outlived the server", len(runProcesses(runsDir, runners...)))
	llm.SetScripts(llmtest.Script{APIKey: realKey, Turns: []llmtest.Turn{{Text: "Hello!"}}}) // nothing slow any more
	p.start()
	restarted := time.Now()

	deadline := time.Now().Add(90 * time.Second)
	statuses := map[string]string{}
	for _, id := range ids {
		for {
			r := p.getRun(id)
			if r.Status != "pending" && r.Status != "running" {
				statuses[r.Status+": "+deref(r.Error)] += id + " "
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s is still %s 90 s after the restart", id, r.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// (Most of it is the new process waiting for the crashed one's River leadership to expire: the watchdog is
	// a periodic job of the leader.)
	t.Logf("every run was terminal %v after the restart", time.Since(restarted).Round(100*time.Millisecond))
	for outcome, runs := range statuses {
		t.Logf("%d runs ended %s", len(strings.Fields(runs)), outcome)
	}
	if left := runProcesses(runsDir, runners...); len(left) > 0 {
		t.Errorf("processes of the crashed server's runs survived the restart: %v", left)
	}
}
