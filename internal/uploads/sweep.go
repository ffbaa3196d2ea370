package uploads

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// sweepBatch bounds the rows one sweep query handles; Sweep loops until a batch comes back short.
const sweepBatch = 500

// Sweep deletes the uploads nobody will use any more, rows and contents: those expired without being
// consumed, and those consumed longer than Limits.ConsumedRetention ago. It returns how many it deleted. A
// content that cannot be deleted keeps its row, for the next sweep.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	lim := s.Limits.withDefaults()
	now := s.now()
	retained := isotime.From(now.Add(-lim.ConsumedRetention))
	deleted := 0
	for {
		batch, err := s.sweepCandidates(ctx, now, retained)
		if err != nil {
			return deleted, err
		}
		for _, c := range batch {
			if c.key != "" {
				if err := s.Objects.Delete(ctx, c.key); err != nil {
					s.Logger.WarnContext(ctx, "uploads: sweep could not delete content", "upload", c.id, "error", err)
					continue
				}
			}
			if _, err := s.DB.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, c.id); err != nil {
				return deleted, fmt.Errorf("sweep upload %s: %w", c.id, err)
			}
			deleted++
		}
		if len(batch) < sweepBatch {
			return deleted, nil
		}
	}
}

type sweepCandidate struct{ id, key string }

func (s *Service) sweepCandidates(ctx context.Context, now, retained isotime.Time) ([]sweepCandidate, error) {
	// An upload expired unconsumed cannot become consumed (Consume refuses it), so deleting it races with nothing.
	rows, err := s.DB.QueryContext(ctx, `SELECT id, content_key FROM uploads
		WHERE (consumed_at IS NULL AND expires_at <= ?) OR (consumed_at IS NOT NULL AND consumed_at <= ?)
		ORDER BY id LIMIT `+fmt.Sprint(sweepBatch), now, retained)
	if err != nil {
		return nil, fmt.Errorf("list expired uploads: %w", err)
	}
	defer rows.Close()
	var out []sweepCandidate
	for rows.Next() {
		var c sweepCandidate
		var key *string
		if err := rows.Scan(&c.id, &key); err != nil {
			return nil, fmt.Errorf("list expired uploads: %w", err)
		}
		c.key = deref(key)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SweepArgs is the periodic job that runs Sweep.
type SweepArgs struct{}

// Kind names the job.
func (SweepArgs) Kind() string { return "uploads_sweep" }

// SweepInterval is how often the periodic sweep runs.
const SweepInterval = time.Hour

// RegisterSweep registers the sweep worker on q and schedules it every SweepInterval (and once when the
// job client starts). Only the elected leader among the serve processes enqueues it.
func RegisterSweep(q jobs.Queue, s *Service) error {
	err := jobs.Register(q, river.WorkFunc(func(ctx context.Context, _ *river.Job[SweepArgs]) error {
		n, err := s.Sweep(ctx)
		if n > 0 {
			s.Logger.DebugContext(ctx, "uploads: expired uploads deleted", "count", n)
		}
		return err
	}))
	if err != nil {
		return fmt.Errorf("register uploads sweep: %w", err)
	}
	_, err = q.AddPeriodic(river.PeriodicInterval(SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: SweepInterval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true, ID: "uploads_sweep"})
	if err != nil {
		return fmt.Errorf("schedule uploads sweep: %w", err)
	}
	return nil
}
