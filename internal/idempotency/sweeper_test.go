package idempotency_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/idempotency"
)

type countingSweeper struct{ calls atomic.Int64 }

func (s *countingSweeper) Sweep(ctx context.Context) (int64, error) {
	s.calls.Add(1)
	return 0, ctx.Err()
}

// TestStartSweeper: the first sweep runs before StartSweeper returns, and stop ends the goroutine (the race
// detector and goleak-style checks would see a leak otherwise; calling stop twice is harmless).
func TestStartSweeper(t *testing.T) {
	s := &countingSweeper{}
	stop := idempotency.StartSweeper(t.Context(), s, time.Hour, nil)
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d sweeps at start, want 1", n)
	}
	stop()
	stop()
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d sweeps after stop, want 1", n)
	}
}
