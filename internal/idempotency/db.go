package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// DB is the Store over the platform database (table idempotency_keys, migration 0004).
type DB struct {
	db *store.DB
	// Lease overrides DefaultLease (tests).
	Lease time.Duration
	// Now overrides the clock (tests); nil = time.Now.
	Now func() time.Time
}

var _ Store = (*DB)(nil)

// NewDB returns the database store. It does not touch the database.
func NewDB(db *store.DB) *DB { return &DB{db: db} }

func (s *DB) now() isotime.Time {
	if s.Now != nil {
		return isotime.From(s.Now())
	}
	return isotime.Now()
}

// beginAttempts bounds the claim/read loop of Begin: a row can only vanish between the two statements when
// it is released or expires meanwhile, which a retry resolves.
const beginAttempts = 5

// Begin claims the key with one upsert that inserts it, or replaces a row that expired or whose lease ran
// out; when it changes nothing, the row that won is read back.
func (s *DB) Begin(ctx context.Context, scope, key, bodyHash string, ttl time.Duration) (Outcome, error) {
	for range beginAttempts {
		now := s.now()
		token := newToken()
		res, err := s.db.ExecContext(ctx, `INSERT INTO idempotency_keys
	(scope, key, token, body_hash, state, created_at, locked_until, expires_at)
VALUES (?, ?, ?, ?, 'processing', ?, ?, ?)
ON CONFLICT (scope, key) DO UPDATE SET token = excluded.token, body_hash = excluded.body_hash,
	state = 'processing', status = NULL, headers = NULL, body = NULL, created_at = excluded.created_at,
	locked_until = excluded.locked_until, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at
	OR (idempotency_keys.state = 'processing' AND idempotency_keys.locked_until <= excluded.created_at)`,
			scope, key, token, bodyHash, now, isotime.From(now.Add(leaseFor(s.Lease, ttl))), isotime.From(now.Add(ttl)))
		if err != nil {
			return Outcome{}, fmt.Errorf("idempotency: claim key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return Outcome{}, fmt.Errorf("idempotency: claim key: %w", err)
		} else if n == 1 {
			return Outcome{State: StateNew, Token: token}, nil
		}
		out, err := s.read(ctx, scope, key, bodyHash, now)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		return out, err
	}
	return Outcome{}, fmt.Errorf("idempotency: key %q kept changing during %d attempts", key, beginAttempts)
}

// read returns the outcome for the live row of (scope, key), or ErrNotFound when there is none.
func (s *DB) read(ctx context.Context, scope, key, bodyHash string, now isotime.Time) (Outcome, error) {
	var (
		state, hash string
		status      *int
		headers     []byte
		body        []byte
	)
	err := s.db.QueryRowContext(ctx, `SELECT state, body_hash, status, headers, body FROM idempotency_keys
WHERE scope = ? AND key = ? AND expires_at > ? AND NOT (state = 'processing' AND locked_until <= ?)`,
		scope, key, now, now).Scan(&state, &hash, &status, &headers, &body)
	if err = store.MapNotFound(err); err != nil {
		return Outcome{}, fmt.Errorf("idempotency: read key: %w", err)
	}
	switch {
	case state == "processing":
		return Outcome{State: StateInProgress}, nil
	case hash != bodyHash:
		return Outcome{State: StateConflict}, nil
	}
	resp := &Response{Body: body}
	if status != nil {
		resp.Status = *status
	}
	if len(headers) > 0 {
		if err := json.Unmarshal(headers, &resp.Header); err != nil {
			return Outcome{}, fmt.Errorf("idempotency: decode stored headers: %w", err)
		}
	}
	return Outcome{State: StateReplay, Stored: resp}, nil
}

// Complete stores the response of the request holding token.
func (s *DB) Complete(ctx context.Context, scope, key, token string, resp Response) error {
	h := resp.Header
	if h == nil {
		h = http.Header{}
	}
	headers, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("idempotency: encode headers: %w", err)
	}
	body := resp.Body
	if body == nil {
		body = []byte{}
	}
	res, err := s.db.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'completed', status = ?, headers = ?, body = ?
WHERE scope = ? AND key = ? AND token = ? AND state = 'processing'`, resp.Status, string(headers), body, scope, key, token)
	if err != nil {
		return fmt.Errorf("idempotency: complete key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("idempotency: complete key: %w", err)
	} else if n == 0 {
		return ErrNotHeld
	}
	return nil
}

// Release deletes the key if token still holds it.
func (s *DB) Release(ctx context.Context, scope, key, token string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND token = ? AND state = 'processing'`,
		scope, key, token)
	if err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	return nil
}

// Sweep deletes expired keys and keys abandoned in progress; it returns how many.
func (s *DB) Sweep(ctx context.Context) (int64, error) {
	now := s.now()
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys
WHERE expires_at <= ? OR (state = 'processing' AND locked_until <= ?)`, now, now)
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("idempotency: sweep: %w", err)
	}
	return n, nil
}

// Sweeper is what StartSweeper runs.
type Sweeper interface {
	Sweep(ctx context.Context) (int64, error)
}

// StartSweeper sweeps s once now, then every interval from a goroutine, until the returned stop function
// is called; stop waits for a sweep in progress to end. Failures are logged at warn level.
func StartSweeper(ctx context.Context, s Sweeper, interval time.Duration, logger *slog.Logger) (stop func()) {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sweep := func() {
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("idempotency: sweep failed", "error", err)
		case n > 0:
			logger.Debug("idempotency: expired keys deleted", "count", n)
		}
	}
	sweep()
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				sweep()
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}
