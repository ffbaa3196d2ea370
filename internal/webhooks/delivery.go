package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/version"
)

// DeliveryKind is the River job kind of a delivery.
const DeliveryKind = "webhook_delivery"

// RetryDelays are the waits after failed attempts 1..7 (the 8th attempt is the last): 30 s, 5 min, 30 min,
// 1 h, 2 h, 3 h, 4 h — about 10.6 h in total.
var RetryDelays = []time.Duration{30 * time.Second, 5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour,
	3 * time.Hour, 4 * time.Hour}

// RetryDelay is the wait after failed attempt n (1-based).
func RetryDelay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(RetryDelays) {
		attempt = len(RetryDelays)
	}
	return RetryDelays[attempt-1]
}

// DeliveryArgs is one delivery job: the exact body of the event for one webhook. The body is fixed when the
// event is published, so every attempt sends the same bytes under the same webhook-id.
type DeliveryArgs struct {
	WebhookID string `json:"webhookId"`
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	Body      string `json:"body"`
	Test      bool   `json:"test,omitempty"` // a test ping: delivered even to a disabled webhook
}

// Kind names the worker of the job.
func (DeliveryArgs) Kind() string { return DeliveryKind }

// InsertOpts gives deliveries MaxAttempts attempts.
func (DeliveryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

// RegisterWorker registers the delivery worker on q (before the job client starts). Every process that may
// lead the job cluster must register it.
func (s *Service) RegisterWorker(q jobs.Queue) error {
	return jobs.Register(q, &deliveryWorker{s: s})
}

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	s *Service
}

// Timeout bounds a job: the HTTP attempt has DeliveryTimeout, the bookkeeping the rest.
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return DeliveryTimeout + 15*time.Second
}

// NextRetry schedules the next attempt RetryDelay(attempt) after the start of the failed one (after now when
// that moment is already past, e.g. for a job rescued long after its worker died). Now is the service's
// clock, which tests share with the job client's.
func (w *deliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	now, delay := w.s.now(), RetryDelay(job.Attempt)
	if job.AttemptedAt != nil {
		if next := job.AttemptedAt.Add(delay); next.After(now) {
			return next
		}
	}
	return now.Add(delay)
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	return w.s.deliver(ctx, job.Args, job.Attempt)
}

// permanentError marks outcomes that retrying cannot change.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// Delivery statuses.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailed  = "failed"
)

// deliver makes one attempt of a delivery and records it. A nil return completes the job; a
// river.JobCancel error stops the retries; any other error retries on the RetryDelays schedule.
func (s *Service) deliver(ctx context.Context, a DeliveryArgs, attempt int) error {
	if s.Keyring == nil {
		return ErrNoKeyring
	}
	w, err := s.webhookByID(ctx, a.WebhookID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("webhook %s was deleted", a.WebhookID))
	}
	if err != nil {
		return err
	}
	if !w.Enabled && !a.Test {
		return river.JobCancel(fmt.Errorf("webhook %s is disabled", w.ID))
	}
	keys, err := s.signingSecrets(ctx, w.ID)
	if err != nil {
		return err
	}
	// A process that died during an earlier attempt left its row pending: that attempt is over.
	now := isotime.From(s.now())
	if _, err := s.DB.ExecContext(ctx, `UPDATE webhook_deliveries SET status = ?, error = ?
		WHERE webhook_id = ? AND event_id = ? AND status = ?`, StatusFailed, "attempt interrupted (the server stopped during delivery)",
		w.ID, a.EventID, StatusPending); err != nil {
		return fmt.Errorf("webhooks: close interrupted attempts: %w", err)
	}
	rowID := ids.UUID()
	if _, err := s.DB.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, status, attempt, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, rowID, w.ID, a.EventID, a.EventType, StatusPending, attempt, now); err != nil {
		return fmt.Errorf("webhooks: record attempt: %w", err)
	}

	res := s.post(ctx, w.URL, a, attempt, keys)

	status := StatusFailed
	if res.err == nil {
		status = StatusSuccess
	}
	var code, latency any
	if res.status != 0 {
		code = res.status
	}
	if res.latency >= 0 {
		latency = res.latency
	}
	var msg any
	if res.err != nil {
		msg = res.err.Error()
	}
	// Recorded even when the attempt was cut short by a shutdown.
	if _, err := s.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE webhook_deliveries SET status = ?, status_code = ?,
		latency = ?, error = ? WHERE id = ?`, status, code, latency, msg, rowID); err != nil {
		s.logger().Warn("webhooks: attempt not recorded", "webhookId", w.ID, "eventId", a.EventID, "error", err)
	}
	log := s.logger().With("webhookId", w.ID, "eventId", a.EventID, "eventType", a.EventType, "attempt", attempt)
	var perm *permanentError
	switch {
	case res.err == nil:
		log.Debug("webhook delivered", "status", res.status, "latencyMs", res.latency)
		return nil
	case errors.As(res.err, &perm):
		log.Info("webhook delivery failed permanently", "error", res.err)
		return river.JobCancel(res.err)
	default:
		log.Info("webhook delivery failed", "error", res.err)
		return res.err
	}
}

// webhookByID reads a webhook whatever its organization (the worker acts for the platform).
func (s *Service) webhookByID(ctx context.Context, id string) (Webhook, error) {
	w, err := scanWebhook(s.DB.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// signingSecrets returns the secrets a delivery is signed with now: the current one, plus the pending one
// during a rotation window. A pending secret whose window is over is promoted here, so its predecessor stops
// signing from the first delivery after the window.
func (s *Service) signingSecrets(ctx context.Context, id string) ([]string, error) {
	keys, err := s.loadSecrets(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	if keys.next == "" {
		return []string{keys.current}, nil
	}
	if s.now().Before(keys.nextExpires.Time) {
		return []string{keys.current, keys.next}, nil
	}
	// Only if no rotation happened since the read: a newer pending secret keeps its own window.
	if _, err := s.DB.ExecContext(ctx, `UPDATE webhooks SET secret_encrypted = secret_next_encrypted, secret_next_encrypted = NULL,
		secret_next_expires_at = NULL WHERE id = ? AND secret_next_expires_at = ?`, id, keys.nextExpires); err != nil {
		return nil, fmt.Errorf("webhooks: promote rotated secret: %w", err)
	}
	return []string{keys.next}, nil
}

// attemptResult is the outcome of one HTTP attempt.
type attemptResult struct {
	status  int   // HTTP status, 0 when no response
	latency int64 // ms until the response headers (or the failure); -1 when no request was made
	err     error // nil on 2xx; *permanentError when retrying cannot help
}

// userAgent of deliveries.
var userAgent = func() string {
	v, _ := version.Get()
	if v == "" {
		v = "dev"
	}
	return "Appstrate-Webhooks/" + v
}()

// post sends one signed attempt.
func (s *Service) post(ctx context.Context, rawURL string, a DeliveryArgs, attempt int, keys []string) attemptResult {
	if err := ValidateURL(rawURL, s.AllowLocal); err != nil {
		return attemptResult{latency: -1, err: &permanentError{"invalid URL: " + err.Error()}}
	}
	u, _ := url.Parse(rawURL)
	body := []byte(a.Body)
	ts := s.now().Unix()
	sig, err := Sign(a.EventID, ts, body, keys...)
	if err != nil {
		return attemptResult{latency: -1, err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return attemptResult{latency: -1, err: &permanentError{"invalid URL: " + err.Error()}}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, a.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, sig)
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	strict, local := s.clients()
	client := strict
	if s.AllowLocal && IsLocalHost(u.Hostname()) {
		client = local
	}
	start := time.Now()
	resp, err := client.Do(req)
	latency := time.Since(start).Milliseconds()
	if err != nil {
		return attemptResult{latency: latency, err: transportError(ctx, err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	res := attemptResult{status: resp.StatusCode, latency: latency}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		res.err = &permanentError{"HTTP " + strconv.Itoa(c) + " (client error: not retried)"}
	case c >= 300 && c < 400:
		res.err = fmt.Errorf("HTTP %d (redirects are not followed)", c)
	default:
		res.err = fmt.Errorf("HTTP %d", c)
	}
	return res
}

// transportError describes a failed request without repeating the URL (it may carry tokens in its query).
func transportError(ctx context.Context, err error) error {
	var blocked *netguard.BlockedError
	if errors.As(err, &blocked) {
		return &permanentError{"destination refused: " + strings.TrimPrefix(blocked.Error(), "netguard: ")}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("attempt interrupted: %w", ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timeout after %s", DeliveryTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errors.New(err.Error())
}
