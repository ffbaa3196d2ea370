package runs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// The llm_usage ledger (RUNTIME.md §1.6, §4.9). A run has at most one 'runner' row, the totals its runner
// reports (metric events, the finalize body), kept at the highest cost seen; and one 'proxy' row per LLM
// response the platform metered itself (the sidecar's POST /internal/llm-usage), deduplicated per request.
// A run's cost is the sum of its proxy rows when it has any — the platform's own metering, which an agent
// cannot influence — else its runner row.

func validUsage(u sink.TokenUsage) bool {
	return u.InputTokens >= 0 && u.OutputTokens >= 0 && u.CacheCreationInputTokens >= 0 && u.CacheReadInputTokens >= 0
}

// upsertRunnerUsage records the runner's totals unless a higher cost is already recorded.
func upsertRunnerUsage(ctx context.Context, q store.Querier, run runRef, u sink.TokenUsage, cost float64) error {
	now := isotime.Now()
	_, err := q.ExecContext(ctx, `INSERT INTO llm_usage (org_id, application_id, run_id, source, input_tokens, output_tokens,
		cache_read_tokens, cache_write_tokens, cost_usd, created_at, updated_at) VALUES (?, ?, ?, 'runner', ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id) WHERE source = 'runner' DO UPDATE SET input_tokens = excluded.input_tokens,
		output_tokens = excluded.output_tokens, cache_read_tokens = excluded.cache_read_tokens,
		cache_write_tokens = excluded.cache_write_tokens, cost_usd = excluded.cost_usd, updated_at = excluded.updated_at
		WHERE excluded.cost_usd >= llm_usage.cost_usd`,
		run.orgID, run.appID, run.id, u.InputTokens, u.OutputTokens, u.CacheReadInputTokens, u.CacheCreationInputTokens,
		cost, now, now)
	if err != nil {
		return fmt.Errorf("record runner usage of %s: %w", run.id, err)
	}
	return nil
}

// proxyUsage is one metered LLM response.
type proxyUsage struct {
	requestID, api, model string
	usage                 sink.TokenUsage
	cost                  float64
}

// upsertProxyUsage records a metered response once per (run, request id); a later report of the same
// request (a stream that completed) replaces it when it counts at least as many tokens.
func upsertProxyUsage(ctx context.Context, q store.Querier, run runRef, p proxyUsage) error {
	now := isotime.Now()
	u := p.usage
	_, err := q.ExecContext(ctx, `INSERT INTO llm_usage (org_id, application_id, run_id, source, request_id, api, model,
		input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, created_at, updated_at)
		VALUES (?, ?, ?, 'proxy', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, request_id) WHERE source = 'proxy' DO UPDATE SET api = excluded.api, model = excluded.model,
		input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
		cache_read_tokens = excluded.cache_read_tokens, cache_write_tokens = excluded.cache_write_tokens,
		cost_usd = excluded.cost_usd, updated_at = excluded.updated_at
		WHERE excluded.input_tokens + excluded.output_tokens + excluded.cache_read_tokens + excluded.cache_write_tokens >=
			llm_usage.input_tokens + llm_usage.output_tokens + llm_usage.cache_read_tokens + llm_usage.cache_write_tokens`,
		run.orgID, run.appID, run.id, p.requestID, store.NullIfEmpty(p.api), store.NullIfEmpty(p.model), u.InputTokens, u.OutputTokens,
		u.CacheReadInputTokens, u.CacheCreationInputTokens, p.cost, now, now)
	if err != nil {
		return fmt.Errorf("record metered usage of %s: %w", run.id, err)
	}
	return nil
}

// runCost is the cost of a run: the sum of its proxy rows when it has any, else its runner row (0 without).
func runCost(ctx context.Context, q store.Querier, runID string) (float64, error) {
	var proxyRows int
	var proxySum, runner sql.NullFloat64
	err := q.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN source = 'proxy' THEN 1 ELSE 0 END), 0),
		SUM(CASE WHEN source = 'proxy' THEN cost_usd END),
		MAX(CASE WHEN source = 'runner' THEN cost_usd END)
		FROM llm_usage WHERE run_id = ?`, runID).Scan(&proxyRows, &proxySum, &runner)
	if err != nil {
		return 0, fmt.Errorf("cost of %s: %w", runID, err)
	}
	if proxyRows > 0 {
		return proxySum.Float64, nil
	}
	return runner.Float64, nil
}

// bumpCost raises runs.cost to the run's current cost (never lowers it while the run is open).
func bumpCost(ctx context.Context, q store.Querier, runID string) error {
	cost, err := runCost(ctx, q, runID)
	if err != nil || cost <= 0 {
		return err
	}
	if _, err := q.ExecContext(ctx, `UPDATE runs SET cost = ? WHERE id = ? AND sink_closed_at IS NULL AND (cost IS NULL OR cost < ?)`,
		cost, runID, cost); err != nil {
		return fmt.Errorf("record cost of %s: %w", runID, err)
	}
	return nil
}
