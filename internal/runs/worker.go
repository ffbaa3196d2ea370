package runs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/executor"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

// errCancelled is the cause of a run context cancelled by POST /api/runs/{id}/cancel in this process.
var errCancelled = errors.New("run cancelled")

// killGrace bounds the wait for a killed execution to report its end.
const killGrace = 5 * time.Second

// WatchdogArgs is the periodic job that runs Sweep.
type WatchdogArgs struct{}

// Kind names the job.
func (WatchdogArgs) Kind() string { return "runs_watchdog" }

// RegisterWorker registers the run worker and the watchdog (at start, then every s.Watchdog) on q.
func (s *Service) RegisterWorker(q *jobs.Client) error {
	if err := jobs.Register[RunArgs](q, &worker{s: s}); err != nil {
		return fmt.Errorf("register run worker: %w", err)
	}
	err := jobs.Register(q, river.WorkFunc(func(ctx context.Context, _ *river.Job[WatchdogArgs]) error {
		_, err := s.Sweep(ctx)
		return err
	}))
	if err != nil {
		return fmt.Errorf("register runs watchdog: %w", err)
	}
	every := s.Watchdog
	if every <= 0 {
		every = 15 * time.Second
	}
	_, err = q.AddPeriodic(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return WatchdogArgs{}, &river.InsertOpts{MaxAttempts: 1}
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: "runs_watchdog"})
	if err != nil {
		return fmt.Errorf("schedule runs watchdog: %w", err)
	}
	return nil
}

type worker struct {
	river.WorkerDefaults[RunArgs]
	s *Service
}

// Timeout gives River the run's own timeout plus a margin: the worker enforces the timeout itself.
func (w *worker) Timeout(job *river.Job[RunArgs]) time.Duration {
	return time.Duration(job.Args.TimeoutSeconds)*time.Second + time.Minute
}

func (w *worker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	return w.s.execute(ctx, job.Args)
}

// outcome is how a run ends.
type outcome struct {
	status string
	err    string
	output json.RawMessage
}

func (s *Service) execute(ctx context.Context, args RunArgs) error {
	id := args.RunID
	claimed, err := s.claim(ctx, id)
	if err != nil || !claimed { // finalized (cancelled) before it started, or gone
		return err
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.active.Store(id, cancel)
	defer s.active.Delete(id)
	timeout := time.Duration(args.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultTimeoutSeconds * time.Second
	}
	bg := context.WithoutCancel(ctx)
	if s.Executor == nil {
		return s.finalizeLogged(bg, id, outcome{status: StatusFailed, err: "No executor is configured"})
	}
	h, err := s.Executor.Start(runCtx, executor.Spec{RunID: id, RunToken: Token(s.TokenSecret, id), Timeout: timeout,
		Env: map[string]string{}, Files: map[string][]byte{}})
	if err != nil {
		return s.finalizeLogged(bg, id, outcome{status: StatusFailed, err: err.Error()})
	}
	done := make(chan executor.Result, 1)
	go func() { done <- h.Wait(bg) }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	beat := s.Heartbeat
	if beat <= 0 {
		beat = 15 * time.Second
	}
	ticker := time.NewTicker(beat)
	defer ticker.Stop()
	for {
		select {
		case r := <-done:
			return s.finalizeLogged(bg, id, resultOutcome(r))
		case <-timer.C:
			h.Kill()
			waitKilled(done)
			return s.finalizeLogged(bg, id, outcome{status: StatusTimeout, err: "Run timed out after " + strconv.Itoa(int(timeout/time.Second)) + "s"})
		case <-runCtx.Done():
			h.Kill()
			waitKilled(done)
			cause := context.Cause(runCtx)
			if errors.Is(cause, errCancelled) || errors.Is(cause, river.ErrJobCancelledRemotely) {
				return s.finalizeLogged(bg, id, outcome{status: StatusCancelled, err: ErrorCancelled})
			}
			// Shutdown: leave the row as a crash would; the watchdog fails it (see the package doc).
			s.log().Warn("runs: execution interrupted by shutdown", "run", id, "cause", cause)
			return nil
		case <-ticker.C:
			if _, err := s.DB.ExecContext(bg, `UPDATE runs SET last_heartbeat_at = ? WHERE id = ? AND status = 'running'`,
				isotime.Now(), id); err != nil {
				s.log().Warn("runs: heartbeat not recorded", "run", id, "error", err)
			}
		}
	}
}

func waitKilled(done <-chan executor.Result) {
	select {
	case <-done:
	case <-time.After(killGrace):
	}
}

func resultOutcome(r executor.Result) outcome {
	switch {
	case r.Err != nil:
		return outcome{status: StatusFailed, err: r.Err.Error()}
	case r.ExitCode != 0:
		return outcome{status: StatusFailed, err: "Agent exited with code " + strconv.Itoa(r.ExitCode)}
	}
	return outcome{status: StatusSuccess, output: r.Output}
}

func (s *Service) finalizeLogged(ctx context.Context, id string, o outcome) error {
	if _, err := s.finalize(ctx, id, o); err != nil {
		s.log().Error("runs: finalize failed", "run", id, "status", o.status, "error", err)
		return err
	}
	return nil
}

// claim moves a pending run to running and publishes run.started; false when it is no longer pending.
func (s *Service) claim(ctx context.Context, id string) (bool, error) {
	claimed := false
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		now := isotime.Now()
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'running', started_at = ?, last_heartbeat_at = ?
			WHERE id = ? AND status = 'pending'`, now, now, id)
		if err != nil {
			return fmt.Errorf("claim run %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		claimed = true
		return s.publish(ctx, tx, id, "run.started")
	})
	return claimed, err
}

// finalize ends a pending or running run with o, exactly once: the conditional UPDATE makes every later
// finalize a no-op (false). The winner writes the completion log rows and publishes the webhook event.
func (s *Service) finalize(ctx context.Context, id string, o outcome) (bool, error) {
	won := false
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var started isotime.Time
		var orgID string
		err := tx.QueryRowContext(ctx, `SELECT started_at, org_id FROM runs WHERE id = ?`, id).Scan(&started, &orgID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load run %s: %w", id, err)
		}
		now := isotime.Now()
		var result any
		if len(o.output) > 0 && string(o.output) != "null" {
			raw, err := json.Marshal(map[string]json.RawMessage{"output": o.output})
			if err != nil {
				return fmt.Errorf("encode result: %w", err)
			}
			result = string(raw)
		}
		res, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, result = ?, completed_at = ?, duration = ?
			WHERE id = ? AND status IN ('pending', 'running')`,
			o.status, nullStr(o.err), result, now, max(now.Sub(started.Time).Milliseconds(), 0), id)
		if err != nil {
			return fmt.Errorf("finalize run %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		won = true
		if result != nil && o.status == StatusSuccess {
			if err := insertLog(ctx, tx, id, orgID, "result", "info", "result", "", result); err != nil {
				return err
			}
		}
		level := "info"
		if o.status != StatusSuccess {
			level = "error"
		}
		data := map[string]any{"runId": id, "status": o.status}
		if o.err != "" {
			data["error"] = o.err
		}
		raw, _ := json.Marshal(data)
		if err := insertLog(ctx, tx, id, orgID, "system", level, "run_completed", "Run "+o.status, string(raw)); err != nil {
			return err
		}
		return s.publish(ctx, tx, id, "run."+o.status)
	})
	return won, err
}

func insertLog(ctx context.Context, q store.Querier, runID, orgID, typ, level, event, message string, data any) error {
	_, err := q.ExecContext(ctx, `INSERT INTO run_logs (run_id, org_id, type, level, event, message, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, runID, orgID, typ, level, event, nullStr(message), data, isotime.Now())
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

// Cancel finalizes a pending or running run `cancelled` and stops its execution; ErrNotCancellable when it is
// already terminal.
func (s *Service) Cancel(ctx context.Context, c Caller, id string) error {
	r, err := s.Get(ctx, c, id)
	if err != nil {
		return err
	}
	won, err := s.finalize(ctx, id, outcome{status: StatusCancelled, err: ErrorCancelled})
	if err != nil {
		return err
	}
	if !won {
		return ErrNotCancellable
	}
	if cancel, ok := s.active.Load(id); ok {
		cancel.(context.CancelCauseFunc)(errCancelled)
	} else if r.jobID.Valid && s.Jobs != nil && s.Jobs.River() != nil { // worked by another process, or not yet
		if _, err := s.Jobs.River().JobCancel(ctx, r.jobID.Int64); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			s.log().Warn("runs: job cancellation not requested", "run", id, "error", err)
		}
	}
	return nil
}

// Sweep fails the runs whose process died: running runs whose heartbeat is older than s.Stall, and pending
// runs older than s.Stall whose job can no longer run. It returns how many it finalized.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	stall := s.Stall
	if stall <= 0 {
		stall = time.Minute
	}
	cutoff := isotime.From(time.Now().Add(-stall))
	rows, err := s.DB.QueryContext(ctx, `SELECT id, status, job_id FROM runs WHERE
		(status = 'running' AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?))
		OR (status = 'pending' AND created_at < ?) ORDER BY id LIMIT 200`, cutoff, cutoff)
	if err != nil {
		return 0, fmt.Errorf("list stalled runs: %w", err)
	}
	type cand struct {
		id, status string
		job        sql.NullInt64
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.status, &c.job); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan stalled run: %w", err)
		}
		cands = append(cands, c)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("list stalled runs: %w", err)
	}
	n := 0
	for _, c := range cands {
		if _, mine := s.active.Load(c.id); mine {
			continue
		}
		if c.status == StatusPending && c.job.Valid && s.Jobs != nil && s.Jobs.River() != nil {
			j, err := s.Jobs.River().JobGet(ctx, c.job.Int64)
			if err == nil && !finalState(j.State) {
				continue // still queued: it will run
			}
		}
		won, err := s.finalize(ctx, c.id, outcome{status: StatusFailed, err: ErrorRestarted})
		if err != nil {
			return n, err
		}
		if won {
			n++
			s.log().Warn("runs: stalled run failed", "run", c.id)
		}
	}
	return n, nil
}

func finalState(st rivertype.JobState) bool {
	return st == rivertype.JobStateCompleted || st == rivertype.JobStateCancelled || st == rivertype.JobStateDiscarded
}
