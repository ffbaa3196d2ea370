// Command runs measures agent runs end to end on a Tier 0 server: it starts the given appstrate binary on a
// fresh data directory with the fake LLM of internal/llm/llmtest (served by this program) as the only model,
// imports a one-tool agent, submits runs through the public API — first -one-at-a-time runs one after the
// other (the latency of a run alone, "1×1"), then N at once for each of -sizes — and prints, per executor:
//
//   - run accepted (the POST's answer) → the run's first LLM request at the fake: p50, p95 and max;
//   - runs/s: N over the time from the first submission until no run is pending or running;
//   - the peak memory of the server and every process under it (runners, sidecars, sandboxes): the summed
//     resident set sizes (RSS, sampled every 100 ms; pages shared between processes, such as the binary's
//     text, count once per process) and the summed proportional set sizes (PSS, every 500 ms; shared pages
//     split between their users: the memory actually used), with the runners in flight at the RSS peak and
//     (peak − idle) per run in flight for both;
//   - the runs that did not succeed (0 expected).
//
// Each run's model holds its first answer for -hold, so the runs overlap. The platform executes at most
// jobs.DefaultMaxWorkers runs at once: beyond that, runs wait in the queue, and the accepted → first request
// figures include that wait.
//
// Usage: go run ./bench/runs [-bin ./bin/appstrate] [-executors process,bwrap] [-one-at-a-time 30]
// [-sizes 100,500] [-hold 3s] [-timeout 15m]. bwrap is skipped when it cannot start sandboxes here. The exit
// code is 1 when a run did not succeed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "./bin/appstrate", "appstrate binary to start")
	executors := flag.String("executors", "process,bwrap", "executors to measure (RUN_ADAPTER values)")
	inTurn := flag.Int("one-at-a-time", 30, "runs submitted one after the other first (0 = none), for the latency of a run alone")
	sizes := flag.String("sizes", "100,500", "numbers of runs submitted at once")
	hold := flag.Duration("hold", 3*time.Second, "how long the model holds each run's first answer")
	timeout := flag.Duration("timeout", 15*time.Minute, "bound of the whole benchmark")
	flag.Parse()
	ns, err := parseSizes(*sizes)
	if err != nil {
		fail(err)
	}
	deadline := time.Now().Add(*timeout)
	fmt.Printf("runs against the fake LLM (first answer held %v when submitted at once), fresh server each time\n", *hold)
	fmt.Printf("%-8s %8s  %-34s %6s  %-30s %-13s %s\n", "executor", "runs", "accepted → first LLM request", "runs/s",
		"idle → peak RSS / PSS, in flight", "MB/run R/P", "failed")
	failed := false
	for _, ex := range strings.Split(*executors, ",") {
		ex = strings.TrimSpace(ex)
		if ex == "bwrap" {
			if _, err := exec.LookPath("bwrap"); err != nil {
				fmt.Printf("%-8s skipped: bwrap is not installed\n", ex)
				continue
			}
		}
		scenarios := []scenario{}
		if *inTurn > 0 {
			scenarios = append(scenarios, scenario{runs: *inTurn, oneAtATime: true})
		}
		for _, n := range ns {
			scenarios = append(scenarios, scenario{runs: n, hold: *hold})
		}
		for _, sc := range scenarios {
			if time.Now().After(deadline) {
				fail(fmt.Errorf("out of time (-timeout %v)", *timeout))
			}
			sc.bin, sc.executor, sc.deadline = *bin, ex, deadline
			res, err := measure(sc)
			if err != nil {
				var skip errSkip
				if asSkip(err, &skip) {
					fmt.Printf("%-8s skipped: %v\n", ex, skip.reason)
					break
				}
				fail(fmt.Errorf("%s, %d runs: %w", ex, sc.runs, err))
			}
			res.print()
			failed = failed || res.failed > 0
		}
	}
	if failed {
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/runs:", err)
	os.Exit(1)
}
