package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/appstrate/appstrate-go/internal/realtime"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Outcomes of an ingested event (POST /api/runs/{runId}/events).
const (
	OutcomePersisted = "persisted" // applied now (with any buffered successors)
	OutcomeBuffered  = "buffered"  // ahead of its turn: kept until the missing events arrive (or finalize)
	OutcomeReplay    = "replay"    // already seen: same webhook-id within the replay window, or an old sequence
)

// MaxBufferedEvents bounds the out-of-order events kept per run.
const MaxBufferedEvents = 10000

// maxLogData is the largest run_logs.data object kept (bigger ones are stored as null).
const maxLogData = 32 << 10

// ErrBufferFull refuses an out-of-order event when MaxBufferedEvents are already waiting (429).
var ErrBufferFull = errors.New("too many out-of-order events are waiting for a missing sequence")

// IngestResult is the answer to an event.
type IngestResult struct {
	Outcome  string
	Sequence *int64 // the event's sequence when it was persisted
}

// terminalEventTypes drain the buffer accepting gaps when they arrive.
var terminalEventTypes = map[string]bool{"run.success": true, "run.failed": true, "run.timeout": true, "run.cancelled": true}

// Ingest authenticates and applies one sink event (RUNTIME.md §1.4). Events are applied strictly in
// sequence order: the one following the run's last_event_sequence is persisted at once with a
// compare-and-set on that column, later ones wait in run_event_buffer (in the database, so every process
// sharing it drains the same buffer) until the gap is filled or the run finalizes. A webhook-id seen within
// the replay window is a replay; its receipt is released when applying fails so a retry is not swallowed.
func (s *Service) Ingest(ctx context.Context, r SinkRequest) (IngestResult, error) {
	if err := s.authenticateSink(ctx, r); err != nil {
		return IngestResult{}, err
	}
	env, err := DecodeEnvelope(r.Body)
	if err != nil {
		return IngestResult{}, err
	}
	fresh, err := s.claimReceipt(ctx, r.RunID, r.WebhookID)
	if err != nil {
		return IngestResult{}, err
	}
	if !fresh {
		return IngestResult{Outcome: OutcomeReplay}, nil
	}
	res, err := s.ingest(ctx, r.RunID, r.WebhookID, env)
	if err != nil {
		s.releaseReceipt(ctx, r.RunID, r.WebhookID)
		return IngestResult{}, err
	}
	return res, nil
}

func (s *Service) ingest(ctx context.Context, runID, webhookID string, env sink.Envelope) (IngestResult, error) {
	last, err := lastSequence(ctx, s.DB, runID)
	if err != nil {
		return IngestResult{}, err
	}
	seq := env.Sequence
	persisted := IngestResult{Outcome: OutcomePersisted, Sequence: &seq}
	switch {
	case seq <= last:
		return IngestResult{Outcome: OutcomeReplay}, nil
	case seq == last+1:
		applied, err := s.advance(ctx, runID, last, env)
		if err != nil {
			return IngestResult{}, err
		}
		if !applied { // another request applied this sequence first
			return IngestResult{Outcome: OutcomeReplay}, nil
		}
		s.drainLogged(ctx, runID, false)
		return persisted, nil
	}
	if err := s.bufferEvent(ctx, runID, webhookID, env); err != nil {
		return IngestResult{}, err
	}
	s.drainLogged(ctx, runID, terminalEventTypes[env.Type])
	if last, err = lastSequence(ctx, s.DB, runID); err != nil {
		return IngestResult{}, err
	}
	if last >= seq {
		return persisted, nil
	}
	return IngestResult{Outcome: OutcomeBuffered}, nil
}

func lastSequence(ctx context.Context, q store.Querier, runID string) (int64, error) {
	var last int64
	err := q.QueryRowContext(ctx, `SELECT last_event_sequence FROM runs WHERE id = ?`, runID).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrSinkNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("last event sequence of %s: %w", runID, err)
	}
	return last, nil
}

// claimReceipt records webhookID for the replay window; false when it was already recorded and not expired.
func (s *Service) claimReceipt(ctx context.Context, runID, webhookID string) (bool, error) {
	now := time.Now()
	res, err := s.DB.ExecContext(ctx, `INSERT INTO run_event_receipts (run_id, webhook_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (run_id, webhook_id) DO UPDATE SET expires_at = excluded.expires_at
		WHERE run_event_receipts.expires_at <= ?`,
		runID, webhookID, isotime.From(now.Add(s.Sink.replay())), isotime.From(now))
	if err != nil {
		return false, fmt.Errorf("record sink receipt of %s: %w", runID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record sink receipt of %s: %w", runID, err)
	}
	return n > 0, nil
}

func (s *Service) releaseReceipt(ctx context.Context, runID, webhookID string) {
	if _, err := s.DB.ExecContext(context.WithoutCancel(ctx), `DELETE FROM run_event_receipts WHERE run_id = ? AND webhook_id = ?`,
		runID, webhookID); err != nil {
		s.log().Warn("runs: sink receipt not released", "run", runID, "error", err)
	}
}

func (s *Service) hasReceipt(ctx context.Context, runID, webhookID string) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM run_event_receipts WHERE run_id = ? AND webhook_id = ?`,
		runID, webhookID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sink receipt of %s: %w", runID, err)
	}
	return n > 0, nil
}

// bufferEvent keeps an event that arrived ahead of its turn.
func (s *Service) bufferEvent(ctx context.Context, runID, webhookID string, env sink.Envelope) error {
	raw, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode buffered event: %w", err)
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM run_event_buffer WHERE run_id = ?`, runID).Scan(&n); err != nil {
			return fmt.Errorf("count buffered events of %s: %w", runID, err)
		}
		if n >= MaxBufferedEvents {
			return ErrBufferFull
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_event_buffer (run_id, sequence, webhook_id, event, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, sequence) DO NOTHING`,
			runID, env.Sequence, webhookID, string(raw), isotime.Now()); err != nil {
			return fmt.Errorf("buffer event %d of %s: %w", env.Sequence, runID, err)
		}
		return nil
	})
}

func (s *Service) drainLogged(ctx context.Context, runID string, allowGaps bool) {
	if err := s.drain(ctx, runID, allowGaps); err != nil && !errors.Is(err, ErrSinkNotFound) {
		s.log().Warn("runs: buffered events not drained", "run", runID, "error", err)
	}
}

// drain applies buffered events in sequence order, from the run's last sequence: only the next one when
// allowGaps is false, else every buffered event (a warning per gap; used by finalize and terminal events).
// Concurrent drains are safe: each event is applied by the compare-and-set of advance.
func (s *Service) drain(ctx context.Context, runID string, allowGaps bool) error {
	for {
		last, err := lastSequence(ctx, s.DB, runID)
		if err != nil {
			return err
		}
		var raw []byte
		err = s.DB.QueryRowContext(ctx, `SELECT event FROM run_event_buffer WHERE run_id = ? AND sequence > ?
			ORDER BY sequence LIMIT 1`, runID, last).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("next buffered event of %s: %w", runID, err)
		}
		var env sink.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			return fmt.Errorf("decode buffered event of %s: %w", runID, err)
		}
		if env.Sequence != last+1 {
			if !allowGaps {
				return nil
			}
			s.log().Warn("runs: gap in run events", "run", runID, "missing", fmt.Sprintf("%d..%d", last+1, env.Sequence-1))
		}
		applied, err := s.advance(ctx, runID, last, env)
		if err != nil {
			return err
		}
		if !applied {
			now, err := lastSequence(ctx, s.DB, runID)
			if err != nil {
				return err
			}
			if now == last { // the sink closed under us: nothing more to apply
				return nil
			}
		}
	}
}

// runRef is what applying an event needs to know about its run.
type runRef struct {
	id, orgID, appID string
}

// advance moves the run from sequence `from` to env.Sequence and applies env, in one transaction: the
// compare-and-set on last_event_sequence comes first, so exactly one request applies each event. false when
// the run had moved on (or its sink closed). The first applied event makes a pending run running.
func (s *Service) advance(ctx context.Context, runID string, from int64, env sink.Envelope) (bool, error) {
	applied := false
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET last_event_sequence = ?, last_heartbeat_at = ?
			WHERE id = ? AND last_event_sequence = ? AND sink_closed_at IS NULL`, env.Sequence, isotime.Now(), runID, from)
		if err != nil {
			return fmt.Errorf("advance run %s to %d: %w", runID, env.Sequence, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		applied = true
		if _, err := tx.ExecContext(ctx, `DELETE FROM run_event_buffer WHERE run_id = ? AND sequence <= ?`, runID, env.Sequence); err != nil {
			return fmt.Errorf("drop applied buffered events of %s: %w", runID, err)
		}
		ref := runRef{id: runID}
		if err := tx.QueryRowContext(ctx, `SELECT org_id, application_id FROM runs WHERE id = ?`, runID).Scan(&ref.orgID, &ref.appID); err != nil {
			return fmt.Errorf("load run %s: %w", runID, err)
		}
		res, err = tx.ExecContext(ctx, `UPDATE runs SET status = 'running' WHERE id = ? AND status = 'pending'`, runID)
		if err != nil {
			return fmt.Errorf("start run %s: %w", runID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := s.publish(ctx, tx, runID, "run.started"); err != nil {
				return err
			}
		}
		return s.applyEvent(ctx, tx, ref, env)
	})
	return applied, err
}

// eventPayload is the data of an event, read leniently: a member of an unexpected type counts as absent.
type eventPayload map[string]json.RawMessage

func (p eventPayload) str(name string) *string {
	var v string
	if raw, ok := p[name]; !ok || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return &v
}

func (p eventPayload) raw(name string) json.RawMessage { return p[name] }

// applyEvent is the write-through table of RUNTIME.md §1.4: an event becomes a run_logs row, or updates the
// run's token usage and cost (appstrate.metric); other types only advance the sequence.
func (s *Service) applyEvent(ctx context.Context, tx *store.Tx, run runRef, env sink.Envelope) error {
	var p eventPayload
	if err := json.Unmarshal(env.Data, &p); err != nil {
		return nil // not an object (DecodeEnvelope prevents it): the sequence still advances
	}
	switch env.Type {
	case sink.TypeLog:
		msg := p.str("message")
		if msg == nil {
			return nil
		}
		return insertLog(ctx, tx, run.id, run.orgID, "progress", levelOr(p.str("level"), "info", "info", "warn", "error"), "progress", *msg, nil)
	case sink.TypeOutput:
		return insertLog(ctx, tx, run.id, run.orgID, "result", "info", "output", "", logData(p.raw("data")))
	case sink.TypeReport:
		content := p.str("content")
		if content == nil {
			return nil
		}
		data, _ := json.Marshal(map[string]string{"content": *content})
		return insertLog(ctx, tx, run.id, run.orgID, "result", "info", "report", "", string(data))
	case sink.TypeProgress:
		return insertLog(ctx, tx, run.id, run.orgID, "progress", levelOr(p.str("level"), "debug", "debug", "info", "warn", "error"),
			"progress", deref(p.str("message")), logData(p.raw("data")))
	case sink.TypeError:
		return insertLog(ctx, tx, run.id, run.orgID, "system", "error", "adapter_error", deref(p.str("message")), logData(p.raw("data")))
	case sink.TypeMetric:
		var m struct {
			Usage *sink.TokenUsage `json:"usage"`
			Cost  *float64         `json:"cost"`
		}
		if json.Unmarshal(env.Data, &m) != nil || m.Usage == nil || !validUsage(*m.Usage) {
			return nil
		}
		cost := 0.0
		if m.Cost != nil && *m.Cost > 0 {
			cost = *m.Cost
		}
		return s.applyMetric(ctx, tx, run, *m.Usage, cost)
	}
	return nil
}

// applyMetric records the runner's running totals: runs.token_usage, the runner llm_usage row (kept at its
// highest cost) and runs.cost (monotonic while the run is open).
func (s *Service) applyMetric(ctx context.Context, tx *store.Tx, run runRef, usage sink.TokenUsage, cost float64) error {
	raw, err := json.Marshal(usage)
	if err != nil {
		return fmt.Errorf("encode token usage: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET token_usage = ? WHERE id = ?`, string(raw), run.id); err != nil {
		return fmt.Errorf("record token usage of %s: %w", run.id, err)
	}
	if err := upsertRunnerUsage(ctx, tx, run, usage, cost); err != nil {
		return err
	}
	if err := bumpCost(ctx, tx, run.id); err != nil {
		return err
	}
	return notifyMetric(ctx, tx, run, usage)
}

// notifyMetric raises run_metric for the live streams (API.md §6), delivered when the transaction commits.
// Unlike upstream there is no per-run debounce: the runner reports once per model turn.
func notifyMetric(ctx context.Context, tx *store.Tx, run runRef, usage sink.TokenUsage) error {
	var cost sql.NullFloat64
	var pkg sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT cost, package_id FROM runs WHERE id = ?`, run.id).Scan(&cost, &pkg); err != nil {
		return fmt.Errorf("read cost of %s: %w", run.id, err)
	}
	payload, err := json.Marshal(map[string]any{"runId": run.id, "orgId": run.orgID, "applicationId": run.appID,
		"packageId": pkg.String, "tokenUsage": usage, "costSoFar": cost.Float64})
	if err != nil {
		return fmt.Errorf("encode run metric: %w", err)
	}
	return realtime.NotifyMetric(ctx, tx, string(payload))
}

func levelOr(level *string, def string, allowed ...string) string {
	if level != nil {
		for _, a := range allowed {
			if *level == a {
				return a
			}
		}
	}
	return def
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// logData is a run_logs.data value: a JSON object of at most maxLogData bytes, else nil.
func logData(raw json.RawMessage) any {
	if len(raw) == 0 || raw[0] != '{' || len(raw) > maxLogData || !json.Valid(raw) {
		return nil
	}
	return string(raw)
}
