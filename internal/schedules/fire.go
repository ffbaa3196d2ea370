package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/cron"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// FireInterval is how often the due schedules are fired, on the quarter minute: a slot on a whole minute fires
// within a few seconds.
const FireInterval = 15 * time.Second

// CatchUpWindow is how late a slot may fire and still be followed by the next slot; a schedule behind by more
// (the platform was down) fires once and resumes after the time of that fire.
const CatchUpWindow = time.Minute

// maxFiresPerJob bounds one fire job; the rest waits for the next one.
const maxFiresPerJob = 1000

// fireBudget bounds the time one fire job spends firing (River's job timeout is 1 min).
const fireBudget = 40 * time.Second

// errSlotTaken means another fire claimed the slot first (or the schedule changed since it was read).
var errSlotTaken = errors.New("schedule slot already claimed")

// FireArgs is the periodic job that fires the due schedules.
type FireArgs struct{}

// Kind names the job.
func (FireArgs) Kind() string { return "schedules_fire" }

// aligned fires on the multiples of every (whole minutes and their quarters for FireInterval).
type aligned time.Duration

func (a aligned) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(a)).Add(time.Duration(a))
}

// RegisterWorker registers the fire worker on q and schedules it at start and every s.Interval. Only one fire
// job is queued or running at a time; exactly-once firing does not depend on it (see the package doc).
func (s *Service) RegisterWorker(q *jobs.Client) error {
	err := jobs.Register(q, river.WorkFunc(func(ctx context.Context, _ *river.Job[FireArgs]) error {
		_, err := s.FireDue(ctx)
		return err
	}))
	if err != nil {
		return fmt.Errorf("register schedules worker: %w", err)
	}
	every := s.Interval
	if every <= 0 {
		every = FireInterval
	}
	_, err = q.AddPeriodic(aligned(every), func() (river.JobArgs, *river.InsertOpts) {
		return FireArgs{}, &river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: "schedules_fire"})
	if err != nil {
		return fmt.Errorf("schedule schedules worker: %w", err)
	}
	return nil
}

// FireDue fires every enabled schedule whose next run has come, once each, and returns how many fired (a run,
// or a failed run recording why it could not start). Errors of single schedules are logged and joined; their
// slot stays due for the next call.
func (s *Service) FireDue(ctx context.Context) (int, error) {
	now := s.now()
	type due struct {
		id   string
		slot isotime.Time
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, next_run_at FROM package_schedules WHERE enabled AND next_run_at <= ?
		ORDER BY next_run_at, id LIMIT ?`, isotime.From(now), maxFiresPerJob)
	if err != nil {
		return 0, fmt.Errorf("list due schedules: %w", err)
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.slot); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan due schedule: %w", err)
		}
		list = append(list, d)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("list due schedules: %w", err)
	}
	fired := 0
	var errs []error
	started := time.Now()
	for _, d := range list {
		if ctx.Err() != nil || time.Since(started) > fireBudget {
			break
		}
		ok, err := s.fire(ctx, d.id, d.slot, now)
		if err != nil {
			s.log().Error("schedules: fire failed, retried on the next pass", "schedule", d.id, "error", err)
			errs = append(errs, err)
		}
		if ok {
			fired++
		}
	}
	return fired, errors.Join(errs...)
}

// fire fires the slot of one schedule: a run, or a failed run with the reason its preflight gave. It reports
// false without error when the slot was claimed elsewhere or the schedule changed.
func (s *Service) fire(ctx context.Context, id string, slot isotime.Time, now time.Time) (bool, error) {
	r, err := scanRow(s.DB.QueryRowContext(ctx, selectSchedule+` WHERE s.id = ?`, id))
	if errNoRows(err) {
		return false, nil // deleted
	}
	if err != nil {
		return false, fmt.Errorf("load schedule %s: %w", id, err)
	}
	if !r.Enabled || !r.NextRunAt.Equal(slot) {
		return false, nil // paused, rescheduled or fired since it was listed
	}
	next, parseErr := followingSlot(r.CronExpression, r.Timezone, slot.Time, now)
	claim := func(ctx context.Context, tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE package_schedules SET next_run_at = ?, last_run_at = ?
			WHERE id = ? AND enabled AND next_run_at = ?`, next, isotime.From(now), id, slot)
		if err != nil {
			return fmt.Errorf("claim slot of schedule %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errSlotTaken
		}
		return nil
	}
	c := r.actor()
	p := runs.CreateParams{AgentID: r.PackageID, Input: r.Input, Config: r.ConfigOverride, ModelID: r.ModelIDOverride,
		ProxyID: r.ProxyIDOverride, ConnectionProfileID: r.ConnectionProfileID, ScheduleID: r.ID}
	reason := ""
	if parseErr != nil {
		reason = "Invalid schedule: " + strings.TrimPrefix(parseErr.Error(), "cron: ")
	} else {
		if p.Version, err = s.fireVersion(ctx, r); err != nil {
			return false, err
		}
		inTx := false
		p.Claim = func(ctx context.Context, tx *store.Tx) error { inTx = true; return claim(ctx, tx) }
		_, err := s.Runs.Create(ctx, c, p)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, errSlotTaken):
			return false, nil
		case inTx || ctx.Err() != nil: // the claim was rolled back with the run: the slot stays due
			return false, fmt.Errorf("fire schedule %s: %w", id, err)
		}
		reason = s.failureReason(r, p.Version, err)
	}
	p.Claim = nil
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := claim(ctx, tx); err != nil {
			return err
		}
		_, err := s.Runs.CreateFailed(ctx, tx, c, p, reason)
		return err
	})
	if errors.Is(err, errSlotTaken) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record failed fire of schedule %s: %w", id, err)
	}
	s.log().Warn("schedules: fire recorded as a failed run", "schedule", id, "reason", reason)
	return true, nil
}

// followingSlot is the next run after firing slot at now: the slot after it while the schedule is less than
// CatchUpWindow behind, else the first slot after now (missed slots fire once). The zero time (stored NULL)
// when the expression never fires again or no longer parses (then with the parse error).
func followingSlot(expr, tz string, slot, now time.Time) (isotime.Time, error) {
	sched, err := cron.ParseIn(expr, tz)
	if err != nil {
		return isoZero, err
	}
	next := sched.Next(slot)
	if !next.After(now.Add(-CatchUpWindow)) {
		next = sched.Next(now)
	}
	return isotime.From(next), nil
}

// fireVersion resolves the schedule's version override (a version or a dist-tag) at fire time; an override
// that names nothing any more is passed on as is, so that the run fails with "version not found".
func (s *Service) fireVersion(ctx context.Context, r *row) (string, error) {
	if r.VersionOverride == nil {
		return "", nil
	}
	v, err := s.resolveVersion(ctx, &agentRef{id: r.PackageID}, *r.VersionOverride)
	if err != nil || v != "" {
		return v, err
	}
	return *r.VersionOverride, nil
}

// failureReason is the error recorded on the failed run of a fire whose preflight failed.
func (s *Service) failureReason(r *row, version string, err error) string {
	var ve *runs.ValidationError
	var nr *runs.NotReadyError
	var le *runs.LimitError
	switch {
	case errors.As(err, &ve):
		what := "input"
		if ve.Code == "invalid_config" {
			what = "config"
		}
		parts := make([]string, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			parts = append(parts, f.Path+": "+f.Message)
		}
		return "Invalid " + what + ": " + strings.Join(parts, "; ")
	case errors.As(err, &nr):
		return nr.Message + " (" + nr.Code + ")"
	case errors.As(err, &le):
		return le.Message
	case errors.Is(err, runs.ErrAgentNotFound):
		return "Agent " + r.PackageID + " is not installed in this application"
	case errors.Is(err, runs.ErrVersionNotFound):
		return "Version '" + version + "' of " + r.PackageID + " not found"
	case errors.Is(err, providers.ErrProfileNotFound):
		return "The schedule's connection profile cannot be used by its owner"
	}
	s.log().Error("schedules: fire preflight failed", "schedule", r.ID, "error", err)
	return "The run could not be prepared (internal error)"
}
