package sink

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MinSecretLength is the shortest sink secret a client accepts.
const MinSecretLength = 16

// RetryPolicy says how the client retries a POST. The zero value is the protocol's: 4 attempts, 500 ms × 2ⁿ
// capped at 30 s, plus up to 25 % jitter, each attempt bounded by 30 s.
type RetryPolicy struct {
	Attempts       int           // total attempts, the first included
	BaseDelay      time.Duration // delay before the second attempt
	MaxDelay       time.Duration // cap of the exponential delay (before jitter)
	AttemptTimeout time.Duration // bound of one attempt
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.AttemptTimeout <= 0 {
		p.AttemptTimeout = 30 * time.Second
	}
	return p
}

// delay is the wait before attempt number attempt+1 (attempt 0 is the first): BaseDelay × 2^attempt capped at
// MaxDelay, plus up to 25 % jitter.
func (p RetryPolicy) delay(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 0; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return d + time.Duration(mathrand.Float64()*0.25*float64(d))
}

// ClientConfig configures a Client.
type ClientConfig struct {
	RunID       string // the run id, used in the envelopes' source
	URL         string // APPSTRATE_SINK_URL: events; URL+"/heartbeat" for heartbeats
	FinalizeURL string // APPSTRATE_SINK_FINALIZE_URL
	Secret      string // APPSTRATE_SINK_SECRET, at least MinSecretLength characters
	// HTTPClient sends every POST; nil uses http.DefaultClient.
	HTTPClient *http.Client
	// Traceparent is the W3C traceparent the run inherits (TRACEPARENT); an invalid or empty one starts a new
	// trace. Each POST carries the trace with a fresh span id.
	Traceparent string
	Retry       RetryPolicy
	// Logger receives failures that have no caller to return to (heartbeats); nil discards them.
	Logger *slog.Logger
}

// Client is the runner's side of the sink (RUNTIME.md §4.8): it numbers events from 1 in hand-off order, POSTs
// them concurrently with Standard Webhooks signatures and retries, sends the terminal RunResult once every event
// has settled, and keeps the run alive with heartbeats. It is safe for concurrent use.
type Client struct {
	cfg        ClientConfig
	retry      RetryPolicy
	httpClient *http.Client
	log        *slog.Logger
	traceID    string
	traceFlags string

	baseCtx context.Context // bounds background POSTs; cancelled by Close
	cancel  context.CancelFunc

	mu        sync.Mutex
	seq       int64
	finalized bool
	failures  []error       // events that could not be delivered since the last Flush
	inflight  int           // event POSTs not settled yet
	drained   chan struct{} // closed when inflight drops to 0; nil while it is 0
}

// ErrFinalized is returned by Emit and Finalize once the run was finalized.
var ErrFinalized = errors.New("sink: run already finalized")

// NewClient checks the configuration and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	var problems []string
	if cfg.RunID == "" {
		problems = append(problems, "run id is empty")
	}
	for _, u := range []struct{ name, value string }{{"sink URL", cfg.URL}, {"finalize URL", cfg.FinalizeURL}} {
		if err := checkHTTPURL(u.value); err != nil {
			problems = append(problems, fmt.Sprintf("%s %v", u.name, err))
		}
	}
	if len(cfg.Secret) < MinSecretLength {
		problems = append(problems, fmt.Sprintf("secret shorter than %d characters", MinSecretLength))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("sink: %s", strings.Join(problems, "; "))
	}
	c := &Client{cfg: cfg, retry: cfg.Retry.withDefaults(), httpClient: cfg.HTTPClient, log: cfg.Logger}
	if c.httpClient == nil {
		c.httpClient = http.DefaultClient
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.traceID, c.traceFlags = parseTraceparent(cfg.Traceparent)
	if c.traceID == "" {
		c.traceID, c.traceFlags = randomHex(16), "01"
	}
	c.baseCtx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// checkHTTPURL accepts absolute http(s) URLs.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", s)
	}
	return nil
}

// Emit hands one event to the sink: it gets the next sequence number and is POSTed in the background (data must
// encode to a JSON object). The POST outlives ctx (an event describing a cancellation must still be delivered);
// Flush waits for it and Close abandons it. Emit fails only when data is not an object or the run was finalized.
func (c *Client) Emit(_ context.Context, eventType string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("sink: encode %s data: %w", eventType, err)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("sink: %s data must be a JSON object", eventType)
	}
	c.mu.Lock()
	if c.finalized {
		c.mu.Unlock()
		return ErrFinalized
	}
	c.seq++
	env := Envelope{
		SpecVersion:     "1.0",
		Type:            eventType,
		Source:          "/afps/runs/" + c.cfg.RunID,
		ID:              uuid.NewString(),
		Time:            time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		DataContentType: "application/json",
		Data:            raw,
		Sequence:        c.seq,
	}
	c.inflight++
	if c.drained == nil {
		c.drained = make(chan struct{})
	}
	c.mu.Unlock()

	go func() {
		err := c.deliver(env)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.failures = append(c.failures, fmt.Errorf("sink: event %d (%s): %w", env.Sequence, eventType, err))
		}
		if c.inflight--; c.inflight == 0 {
			close(c.drained)
			c.drained = nil
		}
	}()
	return nil
}

// deliver POSTs one envelope with retries.
func (c *Client) deliver(env Envelope) error {
	body, err := json.Marshal(env)
	if err != nil { // cannot happen: every field is already valid JSON
		return fmt.Errorf("encode envelope: %w", err)
	}
	return c.post(c.baseCtx, c.cfg.URL, env.ID, body, ContentTypeEvent)
}

// Sequence is the number of events handed to the sink so far (the last sequence number assigned).
func (c *Client) Sequence() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// Flush waits until every event handed over so far was delivered or given up, or until ctx is done. It returns
// the delivery failures since the previous Flush, joined, or ctx's error.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	drained := c.drained
	c.mu.Unlock()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			return fmt.Errorf("sink: flush: %w", ctx.Err())
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.failures...)
	c.failures = nil
	return err
}

// Finalize flushes the pending events, then POSTs the terminal result to the finalize URL (with retries). It is
// sent at most once; later Emit and Finalize calls fail with ErrFinalized. A flush that fails (undelivered events,
// ctx done while waiting) does not prevent the finalize: the platform accepts gaps at finalize.
func (c *Client) Finalize(ctx context.Context, result RunResult) error {
	c.mu.Lock()
	if c.finalized {
		c.mu.Unlock()
		return ErrFinalized
	}
	c.finalized = true
	c.mu.Unlock()
	flushErr := c.Flush(ctx)

	if result.Memories == nil {
		result.Memories = []Memory{}
	}
	if result.Logs == nil {
		result.Logs = []LogEntry{}
	}
	body, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("sink: encode run result: %w", err)
	}
	if err := c.post(ctx, c.cfg.FinalizeURL, uuid.NewString(), body, ContentTypeEvent); err != nil {
		return errors.Join(fmt.Errorf("sink: finalize: %w", err), flushErr)
	}
	if flushErr != nil {
		c.log.Warn("sink: some events were not delivered before finalize", "error", flushErr)
	}
	return nil
}

// Heartbeat POSTs `{}` to URL+"/heartbeat" every interval (±15 % jitter, the first after one interval) until ctx
// is done (it then returns nil) or the platform answers 410 (it returns that *HTTPError: the sink is closed).
// Other failures are logged and the loop goes on.
func (c *Client) Heartbeat(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("sink: heartbeat interval must be positive")
	}
	target := strings.TrimRight(c.cfg.URL, "/") + "/heartbeat"
	for {
		jitter := 1 + (mathrand.Float64()*0.3 - 0.15)
		t := time.NewTimer(time.Duration(float64(interval) * jitter))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		err := c.send(ctx, target, uuid.NewString(), []byte("{}"), "application/json")
		var httpErr *HTTPError
		switch {
		case err == nil:
		case errors.As(err, &httpErr) && httpErr.Gone():
			return fmt.Errorf("sink: heartbeat: %w", err)
		case ctx.Err() != nil:
			return nil
		default:
			c.log.Warn("sink: heartbeat failed", "error", err)
		}
	}
}

// Close abandons the POSTs still in flight (their retries stop). The client must not be used afterwards.
func (c *Client) Close() { c.cancel() }

// HTTPError is a response the platform gave that is not a success and is not retried (or was the last attempt).
// Code and Detail come from the problem+json body when there is one.
type HTTPError struct {
	Status int
	Code   string
	Detail string
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "platform answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// Gone reports a closed or expired sink (410): nothing sent to it will be accepted any more.
func (e *HTTPError) Gone() bool { return e.Status == http.StatusGone }

// Retryable reports a status worth another attempt: 429 and 5xx.
func (e *HTTPError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// post sends body with retries: network errors, 429 and 5xx are retried with backoff (a Retry-After longer than
// the backoff is honoured up to MaxDelay); other statuses fail at once. The webhook-id is the same for every
// attempt; the timestamp and signature are fresh.
func (c *Client) post(ctx context.Context, target, id string, body []byte, contentType string) error {
	var err error
	for attempt := 0; attempt < c.retry.Attempts; attempt++ {
		if attempt > 0 {
			wait := c.retry.delay(attempt - 1)
			var httpErr *retryAfterError
			if errors.As(err, &httpErr) && httpErr.after > wait {
				wait = min(httpErr.after, c.retry.MaxDelay)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		err = c.send(ctx, target, id, body, contentType)
		if err == nil {
			return nil
		}
		var httpErr *HTTPError
		if errors.As(err, &httpErr) && !httpErr.Retryable() {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("after %d attempts: %w", c.retry.Attempts, err)
}

// retryAfterError carries the Retry-After of a retryable answer.
type retryAfterError struct {
	*HTTPError
	after time.Duration
}

func (e *retryAfterError) Unwrap() error { return e.HTTPError }

// send makes one signed POST.
func (c *Client) send(ctx context.Context, target, id string, body []byte, contentType string) error {
	ctx, cancel := context.WithTimeout(ctx, c.retry.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(c.cfg.Secret, id, ts, body))
	req.Header.Set("traceparent", "00-"+c.traceID+"-"+randomHex(8)+"-"+c.traceFlags)
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	httpErr := problemError(resp.StatusCode, raw)
	if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 && httpErr.Retryable() {
		return &retryAfterError{HTTPError: httpErr, after: d}
	}
	return httpErr
}

// problemError reads the code and detail of a problem+json body (or a short plain body as the detail).
func problemError(status int, body []byte) *HTTPError {
	e := &HTTPError{Status: status}
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.Code, e.Detail = p.Code, p.Detail
		if e.Detail == "" {
			e.Detail = p.Title
		}
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	e.Detail = text
	return e
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// parseTraceparent returns the trace id and flags of a valid version-00 W3C traceparent, or "" when invalid.
func parseTraceparent(tp string) (traceID, flags string) {
	parts := strings.Split(strings.TrimSpace(tp), "-")
	if len(parts) != 4 || parts[0] != "00" || !lowerHex(parts[1], 32) || !lowerHex(parts[2], 16) || !lowerHex(parts[3], 2) {
		return "", ""
	}
	if parts[1] == strings.Repeat("0", 32) || parts[2] == strings.Repeat("0", 16) {
		return "", ""
	}
	return parts[1], parts[3]
}

func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
