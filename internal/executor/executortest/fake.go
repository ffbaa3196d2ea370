// Package executortest provides a scripted executor.Executor for tests.
package executortest

import (
	"context"
	"errors"
	"sync"

	"github.com/appstrate/appstrate-go/internal/executor"
)

// ErrKilled is the Err of the result of a killed execution.
var ErrKilled = errors.New("executortest: killed")

// Fake is an executor.Executor whose executions end with Result at once, or, when Block is set, block until
// Release or Kill. It records every Spec it started and every kill.
type Fake struct {
	Result executor.Result // outcome of executions that do not block
	Block  bool            // executions wait for Release or Kill
	// StartErr makes Start fail.
	StartErr error

	mu      sync.Mutex
	handles map[string]*Handle
	started chan executor.Spec
}

// NewFake returns a Fake whose executions end with result.
func NewFake(result executor.Result) *Fake {
	return &Fake{Result: result, handles: map[string]*Handle{}, started: make(chan executor.Spec, 256)}
}

// Start records spec and returns its handle.
func (f *Fake) Start(_ context.Context, spec executor.Spec) (executor.Handle, error) {
	if f.StartErr != nil {
		return nil, f.StartErr
	}
	h := &Handle{done: make(chan struct{})}
	f.mu.Lock()
	f.handles[spec.RunID] = h
	block := f.Block
	f.mu.Unlock()
	if !block {
		h.finish(f.Result, false)
	}
	f.started <- spec
	return h, nil
}

// Started delivers the Spec of every started execution, in order.
func (f *Fake) Started() <-chan executor.Spec { return f.started }

// Release ends the blocked execution of runID with r (no-op when it already ended).
func (f *Fake) Release(runID string, r executor.Result) {
	if h := f.handle(runID); h != nil {
		h.finish(r, false)
	}
}

// Killed reports whether the execution of runID was killed.
func (f *Fake) Killed(runID string) bool {
	h := f.handle(runID)
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.killed
}

func (f *Fake) handle(runID string) *Handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handles[runID]
}

// Handle is a Fake execution.
type Handle struct {
	mu     sync.Mutex
	done   chan struct{}
	result executor.Result
	ended  bool
	killed bool
}

func (h *Handle) finish(r executor.Result, kill bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if kill {
		h.killed = true
	}
	if h.ended {
		return
	}
	h.ended, h.result = true, r
	close(h.done)
}

// Wait returns the result once the execution ended, or a context error result when ctx ends first.
func (h *Handle) Wait(ctx context.Context) executor.Result {
	select {
	case <-h.done:
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.result
	case <-ctx.Done():
		return executor.Result{Err: ctx.Err()}
	}
}

// Kill ends the execution with ErrKilled.
func (h *Handle) Kill() { h.finish(executor.Result{ExitCode: -1, Err: ErrKilled}, true) }
