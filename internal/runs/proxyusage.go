package runs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// ProxyUsage is one LLM response metered by the platform's LLM proxy (/api/llm-proxy/*): the caller, the
// run it belongs to when the caller named one (X-Run-Id), and what it cost.
type ProxyUsage struct {
	OrgID, AppID     string
	UserID, APIKeyID string // who called ("" when not applicable)
	RunID            string // "" = not tied to a run
	RequestID        string // the upstream request id (deduplicates the rows of a run)
	API, Model       string
	Usage            sink.TokenUsage
	Cost             float64 // USD
	DurationMs       int64
}

// ProxyRun checks that runID is a run of orgID that the LLM proxy may meter usage against: it exists in the
// organization (ErrRunNotFound otherwise). It returns the run's application.
func (s *Service) ProxyRun(ctx context.Context, orgID, runID string) (string, error) {
	var org, app string
	err := s.DB.QueryRowContext(ctx, `SELECT org_id, application_id FROM runs WHERE id = ?`, runID).Scan(&org, &app)
	switch {
	case errors.Is(err, sql.ErrNoRows) || err == nil && org != orgID:
		return "", ErrRunNotFound
	case err != nil:
		return "", fmt.Errorf("run %s: %w", runID, err)
	}
	return app, nil
}

// RecordProxyUsage writes a 'proxy' llm_usage row. With a run it is deduplicated on (run, request id) — a
// later report of the same request replaces it when it counts at least as many tokens — and the run's cost
// is raised to its new total.
func (s *Service) RecordProxyUsage(ctx context.Context, u ProxyUsage) error {
	switch {
	case strings.TrimSpace(u.RequestID) == "" || len(u.RequestID) > MaxRequestIDLength:
		return fmt.Errorf("record proxy usage: request id must be 1..%d characters", MaxRequestIDLength)
	case !validUsage(u.Usage):
		return errors.New("record proxy usage: token counts must be >= 0")
	}
	if u.RunID == "" {
		return s.insertProxyRow(ctx, s.DB, u)
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := upsertProxyUsage(ctx, tx, runRef{id: u.RunID, orgID: u.OrgID, appID: u.AppID},
			proxyUsage{requestID: u.RequestID, api: u.API, model: u.Model, usage: u.Usage, cost: u.Cost}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE llm_usage SET user_id = ?, api_key_id = ?, duration_ms = ?
			WHERE run_id = ? AND request_id = ? AND source = 'proxy'`,
			store.NullIfEmpty(u.UserID), store.NullIfEmpty(u.APIKeyID), u.DurationMs, u.RunID, u.RequestID); err != nil {
			return fmt.Errorf("record proxy usage caller of %s: %w", u.RunID, err)
		}
		return bumpCost(ctx, tx, u.RunID)
	})
}

// insertProxyRow records usage that belongs to no run.
func (s *Service) insertProxyRow(ctx context.Context, q store.Querier, u ProxyUsage) error {
	now := isotime.Now()
	_, err := q.ExecContext(ctx, `INSERT INTO llm_usage (org_id, application_id, user_id, api_key_id, source, request_id,
		api, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, duration_ms, created_at,
		updated_at) VALUES (?, ?, ?, ?, 'proxy', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.OrgID, store.NullIfEmpty(u.AppID), store.NullIfEmpty(u.UserID), store.NullIfEmpty(u.APIKeyID), u.RequestID, store.NullIfEmpty(u.API), store.NullIfEmpty(u.Model),
		u.Usage.InputTokens, u.Usage.OutputTokens, u.Usage.CacheReadInputTokens, u.Usage.CacheCreationInputTokens, u.Cost,
		u.DurationMs, now, now)
	if err != nil {
		return fmt.Errorf("record proxy usage: %w", err)
	}
	return nil
}
