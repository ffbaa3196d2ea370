package sidecar

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/llm"
)

// Usage reporting bounds: a report is tried this many times, each attempt bounded, with these pauses.
const (
	usageReportAttempts = 3
	usageReportTimeout  = 10 * time.Second
)

var usageReportBackoff = []time.Duration{250 * time.Millisecond, time.Second}

// UsageReport is the body of POST /internal/llm-usage: what one LLM request consumed, as metered from the
// response the sidecar relayed.
type UsageReport struct {
	RequestID string       `json:"requestId"`
	API       string       `json:"api"`
	Model     string       `json:"model"`
	Usage     reportTokens `json:"usage"`
	Complete  bool         `json:"complete"`
}

type reportTokens struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

func tokensOf(u llm.Usage) reportTokens {
	return reportTokens{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CacheCreationInputTokens: u.CacheWriteTokens, CacheReadInputTokens: u.CacheReadTokens}
}

// usageReporter sends reports in the background, retrying a bounded number of times. It counts what is
// pending — LLM requests still being relayed (begin) and reports not yet sent — so that wait returns only
// once everything metered so far has been reported: the sink relay waits for it before a finalize, and
// shutdown before exiting.
type usageReporter struct {
	platform *platform
	logger   *slog.Logger

	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed when pending drops to zero; nil while it is zero
}

// begin counts one pending piece of work; the returned function (safe to call more than once) ends it.
func (u *usageReporter) begin() func() {
	u.mu.Lock()
	if u.pending == 0 {
		u.idle = make(chan struct{})
	}
	u.pending++
	u.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			u.pending--
			if u.pending == 0 {
				close(u.idle)
				u.idle = nil
			}
		})
	}
}

// report sends r asynchronously (fire and forget).
func (u *usageReporter) report(r UsageReport) {
	done := u.begin()
	go func() {
		defer done()
		u.send(context.Background(), r)
	}()
}

func (u *usageReporter) send(ctx context.Context, r UsageReport) {
	var lastErr error
	for attempt := 0; attempt < usageReportAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(usageReportBackoff[min(attempt-1, len(usageReportBackoff)-1)])
		}
		retry, err := u.attempt(ctx, r)
		if err == nil {
			u.logger.Debug("llm usage reported", "requestId", r.RequestID, "input", r.Usage.InputTokens, "output", r.Usage.OutputTokens)
			return
		}
		lastErr = err
		if !retry {
			break
		}
	}
	u.logger.Warn("llm usage report failed", "requestId", r.RequestID, "error", lastErr.Error(),
		"input", r.Usage.InputTokens, "output", r.Usage.OutputTokens)
}

// attempt posts once; it says whether a failure is worth retrying (network errors, 429, 5xx).
func (u *usageReporter) attempt(ctx context.Context, r UsageReport) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, usageReportTimeout)
	defer cancel()
	status, _, body, err := u.platform.do(ctx, http.MethodPost, "/internal/llm-usage", nil, r)
	if errors.Is(err, ErrNoPlatform) {
		return false, err
	}
	if err != nil {
		return true, err
	}
	if status/100 == 2 {
		return false, nil
	}
	return status == http.StatusTooManyRequests || status >= 500, &PlatformError{Status: status, Detail: problemDetail(body)}
}

// wait blocks until nothing is pending (every relayed LLM request has ended and its usage report is done) or
// ctx ends.
func (u *usageReporter) wait(ctx context.Context) {
	u.mu.Lock()
	idle := u.idle
	u.mu.Unlock()
	if idle == nil {
		return
	}
	select {
	case <-idle:
	case <-ctx.Done():
	}
}
