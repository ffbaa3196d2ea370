package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm/llmtest"
)

// scenario is one measurement: runs submitted at once (or one after the other) on one executor.
type scenario struct {
	bin, executor string
	runs          int
	oneAtATime    bool          // each run submitted once the previous one ended
	hold          time.Duration // the model's first answer waits this long
	deadline      time.Time
}

// result is what a scenario printed.
type result struct {
	scenario
	latencies          []time.Duration // accepted → first LLM request, per run
	elapsed            time.Duration   // first submission → nothing pending or running
	idle, peak         usage           // of the server's process tree; peak.pssKiB is the highest PSS seen
	failed, unanswered int             // runs that did not succeed; runs whose model was never called
}

// errSkip is a scenario that cannot run on this host (the executor is unusable).
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

func asSkip(err error, target *errSkip) bool { return errors.As(err, target) }

var runIDPattern = regexp.MustCompile(`run_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// firstRequests records when each run's first model request reached the fake.
type firstRequests struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (f *firstRequests) record(system string) {
	id := runIDPattern.FindString(system)
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, seen := f.at[id]; !seen && id != "" {
		f.at[id] = now
	}
}

func (f *firstRequests) get(id string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.at[id]
	return t, ok
}

// measure starts a server with the fake model, submits the runs and waits for all of them.
func measure(sc scenario) (*result, error) {
	first := &firstRequests{at: map[string]time.Time{}}
	output := llmtest.Turn{ToolCalls: []llmtest.ToolCall{{Name: "output", Args: `{"data":{"done":true}}`}}, Delay: sc.hold}
	model, err := llmtest.Serve("127.0.0.1:0", llmtest.Script{APIKey: modelKey, Turns: []llmtest.Turn{
		{Reply: func(r llmtest.Request) llmtest.Turn { first.record(r.System); return output }},
		{Text: "Done."},
	}})
	if err != nil {
		return nil, err
	}
	defer model.Close()
	model.SetRecording(false)

	srv, err := startServer(sc.bin, sc.executor, model.URL)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	if err := srv.prepare(sc.runs); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // settle before the idle reading
	res := &result{scenario: sc, idle: treeRSS(srv.pid(), true)}
	sampler := startSampler(srv.pid())

	started := time.Now()
	var accepted map[string]time.Time
	if sc.oneAtATime {
		accepted, err = srv.submitInTurn(sc.runs, sc.deadline)
	} else {
		accepted, err = srv.submit(sc.runs)
	}
	if err != nil {
		sampler.stop()
		return nil, err
	}
	if err := srv.waitIdle(sc.deadline); err != nil {
		sampler.stop()
		return nil, err
	}
	res.elapsed = time.Since(started)
	res.peak = sampler.stop()
	if res.failed, err = srv.notSucceeded(); err != nil {
		return nil, err
	}
	for id, at := range accepted {
		if t, ok := first.get(id); ok {
			res.latencies = append(res.latencies, t.Sub(at))
		} else {
			res.unanswered++
		}
	}
	return res, nil
}

func (r *result) print() {
	slices.Sort(r.latencies)
	lat := "no model request"
	if n := len(r.latencies); n > 0 {
		lat = fmt.Sprintf("p50 %v p95 %v max %v", ms(r.latencies[n/2]), ms(r.latencies[(n*95)/100]), ms(r.latencies[n-1]))
	}
	perRun := "-"
	if n := r.peak.runners; n > 0 {
		perRun = fmt.Sprintf("%.1f / %.1f", mb(r.peak.kib-r.idle.kib)/float64(n), mb(r.peak.pssKiB-r.idle.pssKiB)/float64(n))
	}
	failed := fmt.Sprint(r.failed)
	if r.unanswered > 0 {
		failed += fmt.Sprintf(" (%d never reached the model)", r.unanswered)
	}
	runs := strconv.Itoa(r.runs)
	if r.oneAtATime {
		runs += " 1×1"
	}
	fmt.Printf("%-8s %8s  %-34s %6.1f  %-30s %-13s %s\n", r.executor, runs, lat, float64(r.runs)/r.elapsed.Seconds(),
		fmt.Sprintf("%.0f → %.0f / %.0f MB, %d", mb(r.idle.kib), mb(r.peak.kib), mb(r.peak.pssKiB), r.peak.runners), perRun, failed)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
}

func mb(kib int) float64 { return float64(kib) / 1024 }
