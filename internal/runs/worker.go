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
)

// errCancelled is the cause of a run context cancelled by POST /api/runs/{id}/cancel in this process.
var errCancelled = errors.New("run cancelled")

// killGrace bounds the wait for a killed execution to report its end.
const killGrace = 5 * time.Second

// WatchdogArgs is the periodic job that runs Sweep.
type WatchdogArgs struct{}

// Kind names the job.
func (WatchdogArgs) Kind() string { return "runs_watchdog" }

// RegisterWorker registers the run worker, the watchdog (at start, then every s.Watchdog) and the retention
// sweep of inline packages (at start, then hourly) on q.
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
	return s.registerInlineSweep(q)
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
	sk, err := s.OpenSink(bg, id, "")
	if err != nil {
		return s.finalizeLogged(bg, id, outcome{status: StatusFailed, err: "Run sink not opened: " + err.Error()})
	}
	spec, err := s.plan(bg, args, sk, timeout)
	if err != nil {
		return s.finalizeLogged(bg, id, outcome{status: StatusFailed, err: err.Error()})
	}
	h, err := s.Executor.Start(runCtx, spec)
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
			// Finalized before the kill, as a cancel is: a runner stopped by SIGTERM reports itself cancelled,
			// and that report would win.
			err := s.finalizeLogged(bg, id, outcome{status: StatusTimeout, err: "Run timed out after " + strconv.Itoa(int(timeout/time.Second)) + "s"})
			h.Kill()
			waitKilled(done)
			return err
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
	rows, err := s.DB.QueryContext(ctx, `SELECT id, status, job_id, run_origin FROM runs WHERE
		(run_origin = 'platform' AND ((status = 'running' AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?))
			OR (status = 'pending' AND created_at < ?)))
		OR (run_origin = 'remote' AND status IN ('pending', 'running') AND sink_closed_at IS NULL
			AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?))
		ORDER BY id LIMIT 200`, cutoff, cutoff, cutoff)
	if err != nil {
		return 0, fmt.Errorf("list stalled runs: %w", err)
	}
	type cand struct {
		id, status, origin string
		job                sql.NullInt64
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.status, &c.job, &c.origin); err != nil {
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
		msg := ErrorRestarted
		if c.origin == OriginRemote {
			msg = stalledMessage(stall)
		}
		won, err := s.finalize(ctx, c.id, outcome{status: StatusFailed, err: msg})
		if err != nil {
			return n, err
		}
		if won {
			n++
			s.log().Warn("runs: stalled run failed", "run", c.id)
		}
	}
	s.sweepSinkLeftovers(ctx)
	return n, nil
}

// stalledMessage is the error of a remote run whose runner stopped reporting (RUNTIME.md §1.7).
func stalledMessage(stall time.Duration) string {
	return "Runner stopped reporting — no heartbeat for " + strconv.Itoa(int(stall/time.Second)) +
		"s. The runner process may have crashed or lost network connectivity."
}

// sweepSinkLeftovers drops expired replay receipts and the buffered events of closed sinks.
func (s *Service) sweepSinkLeftovers(ctx context.Context) {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM run_event_receipts WHERE expires_at < ?`, isotime.Now()); err != nil {
		s.log().Warn("runs: expired sink receipts not swept", "error", err)
	}
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM run_event_buffer WHERE run_id IN
		(SELECT id FROM runs WHERE sink_closed_at IS NOT NULL)`); err != nil {
		s.log().Warn("runs: buffered events of closed sinks not swept", "error", err)
	}
}

func finalState(st rivertype.JobState) bool {
	return st == rivertype.JobStateCompleted || st == rivertype.JobStateCancelled || st == rivertype.JobStateDiscarded
}
