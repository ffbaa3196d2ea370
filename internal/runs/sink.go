package runs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// SinkOptions are the settings of the run event sink (RUNTIME.md §1.4, §6).
type SinkOptions struct {
	DefaultTTL time.Duration // REMOTE_RUN_SINK_DEFAULT_TTL_SECONDS (7200 s)
	MaxTTL     time.Duration // REMOTE_RUN_SINK_MAX_TTL_SECONDS (86400 s)
	Tolerance  time.Duration // WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS (300 s)
	Replay     time.Duration // REMOTE_RUN_REPLAY_WINDOW_SECONDS (600 s)
	Burst      int           // REMOTE_RUN_EVENT_LIMITS.burst: sink requests per second per run (200)
	// PublicURL is the base of the sink URLs handed to remote runners (APP_URL); PlatformURL the base handed
	// to platform runs (PLATFORM_API_URL, else APP_URL).
	PublicURL, PlatformURL string
}

// SinkOptionsFrom reads the sink settings from the configuration.
func SinkOptionsFrom(cfg *config.Config) SinkOptions {
	platform := cfg.PlatformAPIURL
	if platform == "" {
		platform = cfg.AppURL
	}
	return SinkOptions{DefaultTTL: cfg.RemoteRunSinkDefaultTTL, MaxTTL: cfg.RemoteRunSinkMaxTTL,
		Tolerance: cfg.WebhookTimestampTolerance, Replay: cfg.RemoteRunReplayWindow, Burst: cfg.RemoteRunEventLimits.Burst,
		PublicURL: cfg.AppURL, PlatformURL: platform}
}

func (o SinkOptions) defaultTTL() time.Duration {
	if o.DefaultTTL <= 0 {
		return 7200 * time.Second
	}
	return o.DefaultTTL
}

func (o SinkOptions) maxTTL() time.Duration {
	if o.MaxTTL <= 0 {
		return 86400 * time.Second
	}
	return o.MaxTTL
}

func (o SinkOptions) tolerance() time.Duration {
	if o.Tolerance <= 0 {
		return 300 * time.Second
	}
	return o.Tolerance
}

func (o SinkOptions) replay() time.Duration {
	if o.Replay <= 0 {
		return 600 * time.Second
	}
	return o.Replay
}

// BurstPerSecond is the number of sink requests a run may make per second.
func (o SinkOptions) BurstPerSecond() int {
	if o.Burst <= 0 {
		return 200
	}
	return o.Burst
}

// Errors of the sink; the routes map them to problems.
var (
	ErrSinkNotFound = errors.New("run not found or without a sink") // 404
	ErrSinkClosed   = errors.New("run_sink_closed")                 // 410
	ErrSinkExpired  = errors.New("run_sink_expired")                // 410
)

// Sink is where a runner reports a run: the event URL, the finalize URL and the HMAC secret, valid until
// ExpiresAt. The heartbeat URL is URL + "/heartbeat".
type Sink struct {
	URL         string       `json:"url"`
	FinalizeURL string       `json:"finalizeUrl"`
	Secret      string       `json:"secret"`
	ExpiresAt   isotime.Time `json:"expiresAt"`
}

// Env is the sink as the runner's environment (RUNTIME.md §2.5).
func (k Sink) Env() map[string]string {
	return map[string]string{"APPSTRATE_SINK_URL": k.URL, "APPSTRATE_SINK_FINALIZE_URL": k.FinalizeURL,
		"APPSTRATE_SINK_SECRET": k.Secret}
}

// newSinkSecret is 32 random bytes, base64url without padding (43 characters).
func newSinkSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sink secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func sinkURLs(baseURL, runID string) (events, finalize string) {
	events = strings.TrimRight(baseURL, "/") + "/api/runs/" + runID + "/events"
	return events, events + "/finalize"
}

// sealSink mints a sink secret and returns it with its envelope.
func (s *Service) sealSink() (secret, sealed string, err error) {
	if s.Keys == nil {
		return "", "", errors.New("sink secret: no encryption key is configured")
	}
	secret, err = newSinkSecret()
	if err != nil {
		return "", "", err
	}
	sealed, err = s.Keys.Encrypt([]byte(secret))
	if err != nil {
		return "", "", fmt.Errorf("seal sink secret: %w", err)
	}
	return secret, sealed, nil
}

// OpenSink mints the sink of a pending or running run (a new secret replaces any previous one) and returns
// it with URLs under baseURL ("" = the platform URL of the options). ErrSinkClosed when the run is
// terminal or unknown.
func (s *Service) OpenSink(ctx context.Context, runID, baseURL string) (Sink, error) {
	if baseURL == "" {
		baseURL = s.Sink.PlatformURL
	}
	secret, sealed, err := s.sealSink()
	if err != nil {
		return Sink{}, err
	}
	now := time.Now()
	expires := isotime.From(now.Add(s.Sink.defaultTTL()))
	res, err := s.DB.ExecContext(ctx, `UPDATE runs SET sink_secret_encrypted = ?, sink_expires_at = ?, last_heartbeat_at = ?
		WHERE id = ? AND sink_closed_at IS NULL AND status IN ('pending', 'running')`, sealed, expires, isotime.From(now), runID)
	if err != nil {
		return Sink{}, fmt.Errorf("open sink of %s: %w", runID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Sink{}, ErrSinkClosed
	}
	events, finalize := sinkURLs(baseURL, runID)
	return Sink{URL: events, FinalizeURL: finalize, Secret: secret, ExpiresAt: expires}, nil
}

// SinkRequest is one signed request on a run's sink: the run id of the path, the Standard Webhooks headers
// and the raw body they sign.
type SinkRequest struct {
	RunID                           string
	WebhookID, Timestamp, Signature string
	Body                            []byte
}

// sinkState is what authenticating a sink request reads from the run row.
type sinkState struct {
	sealed          sql.NullString
	expires, closed isotime.Time
}

func loadSinkState(ctx context.Context, q store.Querier, runID string) (*sinkState, error) {
	var st sinkState
	err := q.QueryRowContext(ctx, `SELECT sink_secret_encrypted, sink_expires_at, sink_closed_at FROM runs WHERE id = ?`,
		runID).Scan(&st.sealed, &st.expires, &st.closed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrSinkNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load sink of %s: %w", runID, err)
	}
	if !st.sealed.Valid || st.sealed.String == "" {
		return nil, ErrSinkNotFound
	}
	return &st, nil
}

// authenticateSink checks a sink request in the order of RUNTIME.md §1.4: unknown run or no sink (404),
// closed (410 run_sink_closed), expired (410 run_sink_expired), then the signature over the raw body (401,
// one of the sink.Err* codes).
func (s *Service) authenticateSink(ctx context.Context, r SinkRequest) error {
	st, err := loadSinkState(ctx, s.DB, r.RunID)
	if err != nil {
		return err
	}
	if !st.closed.IsZero() {
		return ErrSinkClosed
	}
	if !st.expires.IsZero() && !time.Now().Before(st.expires.Time) {
		return ErrSinkExpired
	}
	return s.verifySink(st, r)
}

func (s *Service) verifySink(st *sinkState, r SinkRequest) error {
	if s.Keys == nil {
		return errors.New("sink secret: no encryption key is configured")
	}
	secret, err := s.Keys.Decrypt(st.sealed.String)
	if err != nil {
		return fmt.Errorf("open sink secret of %s: %w", r.RunID, err)
	}
	return sink.Verify(string(secret), r.WebhookID, r.Timestamp, r.Signature, r.Body, time.Now(), s.Sink.tolerance())
}

// SinkHeartbeat records that the runner of a run is alive (POST …/events/heartbeat).
func (s *Service) SinkHeartbeat(ctx context.Context, r SinkRequest) error {
	if err := s.authenticateSink(ctx, r); err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE runs SET last_heartbeat_at = ? WHERE id = ? AND sink_closed_at IS NULL`,
		isotime.Now(), r.RunID); err != nil {
		return fmt.Errorf("heartbeat of %s: %w", r.RunID, err)
	}
	return nil
}

// ExtendSink pushes the expiry of a visible run's open sink to now + ttl (capped by the maximum TTL) and
// bumps its heartbeat (PATCH /api/runs/{runId}/sink/extend).
func (s *Service) ExtendSink(ctx context.Context, c Caller, runID string, ttl time.Duration) (isotime.Time, error) {
	if _, err := s.Get(ctx, c, runID); err != nil {
		return isotime.Time{}, err
	}
	st, err := loadSinkState(ctx, s.DB, runID)
	if err != nil {
		return isotime.Time{}, err
	}
	if !st.closed.IsZero() {
		return isotime.Time{}, ErrSinkClosed
	}
	ttl = min(ttl, s.Sink.maxTTL())
	now := time.Now()
	expires := isotime.From(now.Add(ttl))
	res, err := s.DB.ExecContext(ctx, `UPDATE runs SET sink_expires_at = ?, last_heartbeat_at = ?
		WHERE id = ? AND sink_closed_at IS NULL`, expires, isotime.From(now), runID)
	if err != nil {
		return isotime.Time{}, fmt.Errorf("extend sink of %s: %w", runID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return isotime.Time{}, ErrSinkClosed
	}
	return expires, nil
}
