package runs

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/sink"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// ErrorNoLLM is the error of a run that reports success without having used a single token (RUNTIME.md §1.5).
const ErrorNoLLM = "The AI agent could not reach the LLM API — check that the API key is valid and the provider is accessible"

// outputValidationPrefix starts the error of a run whose output breaks its output schema.
const outputValidationPrefix = "Output validation failed: "

// result converts a platform-side outcome into the RunResult finalize works on.
func (o outcome) result() sink.RunResult {
	r := sink.RunResult{Status: o.status, Output: o.output}
	if o.err != "" {
		r.Error = &sink.ErrorInfo{Message: o.err}
	}
	return r
}

// finalize ends a pending or running run with a platform-side outcome (worker exit, timeout, cancel,
// watchdog); see finalizeResult.
func (s *Service) finalize(ctx context.Context, id string, o outcome) (bool, error) {
	return s.finalizeResult(ctx, id, o.result())
}

// finalRun is what finalize reads from the run row.
type finalRun struct {
	id, orgID, appID         string
	packageID                sql.NullString
	userID, endUserID        sql.NullString
	status                   string
	startedAt, closedAt      isotime.Time
	outputSchema, tokenUsage []byte
}

func loadFinalRun(ctx context.Context, q store.Querier, id string) (*finalRun, error) {
	r := finalRun{id: id}
	err := q.QueryRowContext(ctx, `SELECT org_id, application_id, package_id, user_id, end_user_id, status, started_at,
		sink_closed_at, output_schema, token_usage FROM runs WHERE id = ?`, id).Scan(&r.orgID, &r.appID, &r.packageID,
		&r.userID, &r.endUserID, &r.status, &r.startedAt, &r.closedAt, &r.outputSchema, &r.tokenUsage)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrRunNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load run %s: %w", id, err)
	}
	return &r, nil
}

func (r *finalRun) terminal() bool {
	return !r.closedAt.IsZero() || (r.status != StatusPending && r.status != StatusRunning)
}

// verdict is the derived end of a run.
type verdict struct {
	status, err string
	invalid     []jsonschema.FieldError // output schema violations (output_validation log row)
}

// finalizeResult is the single convergence point of every run end (RUNTIME.md §1.5): the runner's finalize,
// the worker's exit synthesis, cancel and the watchdog all call it, and exactly one of them wins the
// conditional UPDATE on sink_closed_at IS NULL. Before it: buffered events are drained (gaps accepted), the
// persistence of r is validated (a *ResultError writes nothing), the status is derived, and a runner cost
// is recorded in the ledger. The winner writes, in the same transaction, the output_validation row, the
// memories and pinned slots, the result and run_completed rows, and the webhook event. false when the run
// had already ended (or does not exist).
func (s *Service) finalizeResult(ctx context.Context, id string, r sink.RunResult) (bool, error) {
	s.drainLogged(ctx, id, true)
	run, err := loadFinalRun(ctx, s.DB, id)
	if errors.Is(err, ErrRunNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if run.terminal() {
		return false, nil
	}
	plan, err := planPersistence(r)
	if err != nil {
		return false, err
	}
	v, err := s.derive(ctx, run, r)
	if err != nil {
		return false, err
	}
	ref := runRef{id: id, orgID: run.orgID, appID: run.appID}
	if r.Cost != nil && *r.Cost > 0 { // the runner's own total, in case its last metric event was lost
		usage := sink.TokenUsage{}
		if r.Usage != nil && validUsage(*r.Usage) {
			usage = *r.Usage
		}
		if err := upsertRunnerUsage(ctx, s.DB, ref, usage, *r.Cost); err != nil {
			return false, err
		}
	}
	won := false
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		won, err = s.closeRun(ctx, tx, run, r, v, plan)
		return err
	})
	return won, err
}

// closeRun is the terminal compare-and-set and, when it wins, the winner's writes.
func (s *Service) closeRun(ctx context.Context, tx *store.Tx, run *finalRun, r sink.RunResult, v verdict, plan persistPlan) (bool, error) {
	now := time.Now()
	cost, err := runCost(ctx, tx, run.id)
	if err != nil {
		return false, err
	}
	var costArg, resultArg, usageArg, checkpointArg any
	if cost > 0 {
		costArg = cost
	}
	output := presentJSON(r.Output)
	if output != nil {
		raw, err := json.Marshal(map[string]json.RawMessage{"output": output})
		if err != nil {
			return false, fmt.Errorf("encode result: %w", err)
		}
		resultArg = string(raw)
	}
	if r.Usage != nil && validUsage(*r.Usage) {
		raw, _ := json.Marshal(r.Usage)
		usageArg = string(raw)
	}
	if plan.checkpoint != nil {
		checkpointArg = string(plan.checkpoint)
	}
	duration := now.Sub(run.startedAt.Time).Milliseconds()
	if r.DurationMs != nil && *r.DurationMs >= 0 {
		duration = *r.DurationMs
	}
	stamp := isotime.From(now)
	res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, result = ?, completed_at = ?, duration = ?,
		cost = ?, sink_closed_at = ?, notified_at = ?, checkpoint = COALESCE(?, checkpoint),
		token_usage = COALESCE(?, token_usage)
		WHERE id = ? AND status IN ('pending', 'running') AND sink_closed_at IS NULL`,
		v.status, store.NullIfEmpty(v.err), resultArg, stamp, max(duration, 0), costArg, stamp, stamp, checkpointArg, usageArg, run.id)
	if err != nil {
		return false, fmt.Errorf("finalize run %s: %w", run.id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if len(v.invalid) > 0 {
		data, _ := json.Marshal(map[string]any{"valid": false, "errors": v.invalid})
		if err := insertLog(ctx, tx, run.id, run.orgID, "system", "error", "output_validation", v.err, string(data)); err != nil {
			return false, err
		}
	}
	if run.packageID.Valid {
		t := persistTarget{runID: run.id, packageID: run.packageID.String, appID: run.appID, orgID: run.orgID,
			actor: actorOf(run.userID.String, run.endUserID.String)}
		if err := writePersistence(ctx, tx, t, plan); err != nil {
			return false, err
		}
	}
	if resultArg != nil && v.status == StatusSuccess {
		if err := insertLog(ctx, tx, run.id, run.orgID, "result", "info", "result", "", resultArg); err != nil {
			return false, err
		}
	}
	level := "info"
	if v.status != StatusSuccess {
		level = "error"
	}
	data := map[string]any{"runId": run.id, "status": v.status}
	if v.err != "" {
		data["error"] = v.err
	}
	raw, _ := json.Marshal(data)
	if err := insertLog(ctx, tx, run.id, run.orgID, "system", level, "run_completed", "Run "+v.status, string(raw)); err != nil {
		return false, err
	}
	return true, s.publish(ctx, tx, run.id, "run."+v.status)
}

// derive applies the status derivation of RUNTIME.md §1.5, in order: the explicit status; else failed with
// an error, success without; then, for a success: the output against the output schema of the version the
// run used (snapshot on the run row), no output with an adapter_error row, and no token used at all.
func (s *Service) derive(ctx context.Context, run *finalRun, r sink.RunResult) (verdict, error) {
	v := verdict{status: r.Status}
	if r.Error != nil {
		v.err = r.Error.Message
	}
	if v.status == "" {
		v.status = StatusSuccess
		if r.Error != nil {
			v.status = StatusFailed
		}
	}
	if v.status != StatusSuccess {
		return v, nil
	}
	output := presentJSON(r.Output)
	if invalid := validateOutput(run.outputSchema, output); len(invalid) > 0 {
		v.status, v.invalid = StatusFailed, invalid
		v.err = outputValidationPrefix + describeFieldErrors(invalid)
		return v, nil
	}
	if output == nil {
		var msg sql.NullString
		err := s.DB.QueryRowContext(ctx, `SELECT message FROM run_logs WHERE run_id = ? AND event = 'adapter_error'
			ORDER BY id DESC LIMIT 1`, run.id).Scan(&msg)
		switch {
		case err == nil:
			v.status, v.err = StatusFailed, msg.String
			return v, nil
		case !errors.Is(err, sql.ErrNoRows):
			return v, fmt.Errorf("adapter errors of %s: %w", run.id, err)
		}
	}
	usage := sink.TokenUsage{}
	switch {
	case r.Usage != nil:
		usage = *r.Usage
	case len(run.tokenUsage) > 0:
		_ = json.Unmarshal(run.tokenUsage, &usage)
	}
	if usage.Total() <= 0 {
		v.status, v.err = StatusFailed, ErrorNoLLM
	}
	return v, nil
}

// presentJSON is raw unless it is empty or null.
func presentJSON(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	return t
}

// validateOutput checks output against an output schema: a schema without properties accepts anything,
// extra members are always allowed (additionalProperties forced to true at the root), and an output that
// is not an object is validated as {}. An uncompilable schema accepts anything (it was accepted at publish).
func validateOutput(schema []byte, output json.RawMessage) []jsonschema.FieldError {
	var doc map[string]any
	if len(schema) == 0 || json.Unmarshal(schema, &doc) != nil || doc == nil {
		return nil
	}
	if props, _ := doc["properties"].(map[string]any); len(props) == 0 {
		return nil
	}
	doc["additionalProperties"] = true
	forced, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	compiled, err := jsonschema.Compile(forced)
	if err != nil {
		return nil
	}
	var value any = map[string]any{}
	if output != nil && output[0] == '{' {
		if v, err := jsonschema.Decode(output); err == nil {
			value = v
		}
	}
	return compiled.Validate(value)
}

func describeFieldErrors(errs []jsonschema.FieldError) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		field := e.Path
		if field == "" {
			field = "(root)"
		}
		parts = append(parts, "Field '"+field+"': "+e.Message)
	}
	return strings.Join(parts, "; ")
}

// FinalizeSink ends a run with the RunResult its runner POSTed to …/events/finalize. It is idempotent: the
// retry of a finalize that already won (same webhook-id) answers nil although the sink is closed; any other
// request on a closed sink is ErrSinkClosed. A body that cannot be accepted is a *ResultError and leaves
// the run open.
func (s *Service) FinalizeSink(ctx context.Context, req SinkRequest) error {
	st, err := loadSinkState(ctx, s.DB, req.RunID)
	if err != nil {
		return err
	}
	if !st.closed.IsZero() {
		if seen, err := s.hasReceipt(ctx, req.RunID, req.WebhookID); err == nil && seen && s.verifySink(st, req) == nil {
			return nil
		}
		return ErrSinkClosed
	}
	if !st.expires.IsZero() && !time.Now().Before(st.expires.Time) {
		return ErrSinkExpired
	}
	if err := s.verifySink(st, req); err != nil {
		return err
	}
	result, err := DecodeRunResult(req.Body)
	if err != nil {
		return err
	}
	if _, err := s.claimReceipt(ctx, req.RunID, req.WebhookID); err != nil {
		return err
	}
	if _, err := s.finalizeResult(ctx, req.RunID, result); err != nil {
		s.releaseReceipt(ctx, req.RunID, req.WebhookID)
		return err
	}
	return nil
}

// runResultBody is the finalize body as received: loose (unknown members are ignored) but typed.
type runResultBody struct {
	Memories   []sink.Memory          `json:"memories"`
	Pinned     map[string]sink.Pinned `json:"pinned"`
	Output     json.RawMessage        `json:"output"`
	Error      *sink.ErrorInfo        `json:"error"`
	Status     string                 `json:"status"`
	DurationMs *float64               `json:"durationMs"`
	Usage      *sink.TokenUsage       `json:"usage"`
	Cost       *float64               `json:"cost"`
}

// DecodeRunResult parses a finalize body (RUNTIME.md §1.5): a JSON object whose known members have their
// types, status one of success|failed|timeout|cancelled, durationMs an integer ≥ 0, usage counts ≥ 0 and
// cost ≥ 0. Errors are *ResultError.
func DecodeRunResult(body []byte) (sink.RunResult, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return sink.RunResult{}, &ResultError{Fields: []FieldError{{Field: "body", Message: "must be a JSON object"}}}
	}
	var b runResultBody
	if err := json.Unmarshal(trimmed, &b); err != nil {
		field, msg := "body", "must be a valid RunResult"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			field, msg = te.Field, "must be "+jsonKind(te.Type.Kind().String())
		}
		return sink.RunResult{}, &ResultError{Fields: []FieldError{{Field: field, Message: msg}}}
	}
	var errs []FieldError
	switch b.Status {
	case "", StatusSuccess, StatusFailed, StatusTimeout, StatusCancelled:
	default:
		errs = append(errs, FieldError{Field: "status", Message: "must be one of success, failed, timeout, cancelled"})
	}
	r := sink.RunResult{Memories: b.Memories, Pinned: b.Pinned, Output: b.Output, Error: b.Error, Status: b.Status,
		Usage: b.Usage, Cost: b.Cost}
	if b.DurationMs != nil {
		d := int64(*b.DurationMs)
		if *b.DurationMs < 0 || float64(d) != *b.DurationMs {
			errs = append(errs, FieldError{Field: "durationMs", Message: "must be an integer >= 0"})
		}
		r.DurationMs = &d
	}
	if b.Usage != nil && !validUsage(*b.Usage) {
		errs = append(errs, FieldError{Field: "usage", Message: "token counts must be >= 0"})
	}
	if b.Cost != nil && *b.Cost < 0 {
		errs = append(errs, FieldError{Field: "cost", Message: "must be >= 0"})
	}
	if b.Error != nil && b.Error.Message == "" {
		b.Error.Message = "Run failed"
	}
	if len(errs) > 0 {
		return sink.RunResult{}, &ResultError{Fields: errs}
	}
	return r, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}

func insertLog(ctx context.Context, q store.Querier, runID, orgID, typ, level, event, message string, data any) error {
	_, err := q.ExecContext(ctx, `INSERT INTO run_logs (run_id, org_id, type, level, event, message, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, runID, orgID, typ, level, event, store.NullIfEmpty(message), data, isotime.Now())
	if err != nil {
		return fmt.Errorf("insert run log: %w", err)
	}
	return nil
}

// publish emits a run webhook event (API.md §3.7) in tx.
func (s *Service) publish(ctx context.Context, tx *store.Tx, id, typ string) error {
	if s.Webhooks == nil {
		return nil
	}
	r, err := getRun(ctx, tx, id)
	if err != nil {
		return err
	}
	obj := map[string]any{"object": "run", "id": r.ID, "packageId": r.PackageID, "status": r.Status,
		"duration": r.Duration, "result": r.Result, "error": r.Error, "input": r.Input}
	pkg := ""
	if r.PackageID != nil {
		pkg = *r.PackageID
	}
	if _, err := s.Webhooks.Publish(ctx, tx, webhooks.Event{OrgID: r.OrgID, AppID: r.ApplicationID, PackageID: pkg,
		Type: typ, Object: obj}); err != nil {
		return fmt.Errorf("publish %s: %w", typ, err)
	}
	return nil
}
