package idempotency_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/idempotency"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

// clock is a manual clock shared by a store under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// sweeper is a Store that can also delete expired keys.
type sweeper interface {
	idempotency.Store
	idempotency.Sweeper
}

// eachStore runs fn on the memory store and on the database store of both dialects, each with a manual
// clock and a 10-minute lease.
func eachStore(t *testing.T, fn func(t *testing.T, s sweeper, c *clock)) {
	t.Run("memory", func(t *testing.T) {
		c := newClock()
		fn(t, &idempotency.Memory{Now: c.Now, Lease: 10 * time.Minute}, c)
	})
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		c := newClock()
		s := idempotency.NewDB(db)
		s.Now, s.Lease = c.Now, 10*time.Minute
		fn(t, s, c)
	})
}

const (
	scope = "org_1/app_1/- POST /api/end-users"
	hashA = "aaaa"
	hashB = "bbbb"
)

func begin(t *testing.T, s idempotency.Store, scope, key, hash string) idempotency.Outcome {
	t.Helper()
	out, err := s.Begin(t.Context(), scope, key, hash, idempotency.TTL)
	if err != nil {
		t.Fatalf("Begin(%q, %q): %v", scope, key, err)
	}
	return out
}

func wantState(t *testing.T, out idempotency.Outcome, want idempotency.State) {
	t.Helper()
	if out.State != want {
		t.Fatalf("state = %q, want %q", out.State, want)
	}
}

var created = idempotency.Response{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "Location": {"/api/end-users/eu_1"}},
	Body:   []byte(`{"id":"eu_1","object":"end_user"}`),
}

func TestLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		ctx := t.Context()
		first := begin(t, s, scope, "k1", hashA)
		wantState(t, first, idempotency.StateNew)
		if first.Token == "" {
			t.Fatal("StateNew without a token")
		}
		// While held: in progress, whatever the body.
		wantState(t, begin(t, s, scope, "k1", hashA), idempotency.StateInProgress)
		wantState(t, begin(t, s, scope, "k1", hashB), idempotency.StateInProgress)
		// Another scope or key is independent.
		wantState(t, begin(t, s, "org_1/app_1/- POST /api/webhooks", "k1", hashA), idempotency.StateNew)
		wantState(t, begin(t, s, "org_2/app_2/- POST /api/end-users", "k1", hashA), idempotency.StateNew)
		wantState(t, begin(t, s, scope, "k2", hashA), idempotency.StateNew)

		if err := s.Complete(ctx, scope, "k1", "not-the-token", created); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("Complete with a foreign token: %v, want ErrNotHeld", err)
		}
		if err := s.Complete(ctx, scope, "k1", first.Token, created); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if err := s.Complete(ctx, scope, "k1", first.Token, created); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("second Complete: %v, want ErrNotHeld", err)
		}
		replay := begin(t, s, scope, "k1", hashA)
		wantState(t, replay, idempotency.StateReplay)
		if replay.Stored == nil || !reflect.DeepEqual(*replay.Stored, created) {
			t.Fatalf("stored = %+v, want %+v", replay.Stored, created)
		}
		wantState(t, begin(t, s, scope, "k1", hashB), idempotency.StateConflict)
		// Releasing a completed key changes nothing.
		if err := s.Release(ctx, scope, "k1", first.Token); err != nil {
			t.Fatalf("Release of a completed key: %v", err)
		}
		wantState(t, begin(t, s, scope, "k1", hashA), idempotency.StateReplay)
	})
}

func TestEmptyResponseRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		out := begin(t, s, scope, "empty", hashA)
		if err := s.Complete(t.Context(), scope, "empty", out.Token, idempotency.Response{Status: http.StatusNoContent}); err != nil {
			t.Fatal(err)
		}
		replay := begin(t, s, scope, "empty", hashA)
		wantState(t, replay, idempotency.StateReplay)
		if replay.Stored.Status != http.StatusNoContent || len(replay.Stored.Body) != 0 || len(replay.Stored.Header) != 0 {
			t.Fatalf("stored = %+v", replay.Stored)
		}
	})
}

func TestRelease(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		ctx := t.Context()
		first := begin(t, s, scope, "k", hashA)
		if err := s.Release(ctx, scope, "k", "someone-else"); err != nil {
			t.Fatalf("Release with a foreign token: %v", err)
		}
		wantState(t, begin(t, s, scope, "k", hashA), idempotency.StateInProgress)
		if err := s.Release(ctx, scope, "k", first.Token); err != nil {
			t.Fatalf("Release: %v", err)
		}
		// The key is free again, even for another body.
		second := begin(t, s, scope, "k", hashB)
		wantState(t, second, idempotency.StateNew)
		if err := s.Complete(ctx, scope, "k", first.Token, created); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("Complete with the released token: %v, want ErrNotHeld", err)
		}
		if err := s.Release(ctx, scope, "k", first.Token); err != nil {
			t.Fatalf("second Release with the old token: %v", err)
		}
		wantState(t, begin(t, s, scope, "k", hashA), idempotency.StateInProgress)
	})
}

func TestExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		ctx := t.Context()
		out := begin(t, s, scope, "k", hashA)
		if err := s.Complete(ctx, scope, "k", out.Token, created); err != nil {
			t.Fatal(err)
		}
		c.Advance(idempotency.TTL - time.Millisecond)
		wantState(t, begin(t, s, scope, "k", hashB), idempotency.StateConflict)
		c.Advance(time.Millisecond)
		// Expired: absent, so a new request (any body) takes the key over.
		again := begin(t, s, scope, "k", hashB)
		wantState(t, again, idempotency.StateNew)
		if err := s.Complete(ctx, scope, "k", out.Token, created); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("Complete with the token of the expired row: %v, want ErrNotHeld", err)
		}
	})
}

func TestLeaseOfAbandonedRequests(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		ctx := t.Context()
		abandoned := begin(t, s, scope, "k", hashA)
		c.Advance(10*time.Minute - time.Millisecond)
		wantState(t, begin(t, s, scope, "k", hashA), idempotency.StateInProgress)
		c.Advance(time.Millisecond)
		retry := begin(t, s, scope, "k", hashA)
		wantState(t, retry, idempotency.StateNew)
		if err := s.Complete(ctx, scope, "k", abandoned.Token, created); !errors.Is(err, idempotency.ErrNotHeld) {
			t.Fatalf("late Complete of the abandoned request: %v, want ErrNotHeld", err)
		}
		if err := s.Complete(ctx, scope, "k", retry.Token, created); err != nil {
			t.Fatal(err)
		}
		// Completed keys outlive the lease.
		c.Advance(time.Hour)
		wantState(t, begin(t, s, scope, "k", hashA), idempotency.StateReplay)
	})
}

func TestSweep(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		ctx := t.Context()
		done := begin(t, s, scope, "done", hashA)
		if err := s.Complete(ctx, scope, "done", done.Token, created); err != nil {
			t.Fatal(err)
		}
		begin(t, s, scope, "stuck", hashA)
		sweep := func(want int64) {
			t.Helper()
			n, err := s.Sweep(ctx)
			if err != nil || n != want {
				t.Fatalf("Sweep = %d, %v; want %d", n, err, want)
			}
		}
		sweep(0)
		c.Advance(11 * time.Minute) // past the lease: the stuck key goes
		sweep(1)
		wantState(t, begin(t, s, scope, "done", hashA), idempotency.StateReplay)
		c.Advance(idempotency.TTL) // past the TTL: the completed key goes too
		sweep(1)
		wantState(t, begin(t, s, scope, "done", hashA), idempotency.StateNew)
	})
}

// TestConcurrentBegin: of 8 concurrent requests with the same key exactly one runs.
func TestConcurrentBegin(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		const n = 8
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			states = make([]idempotency.State, n)
			errs   = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				out, err := s.Begin(context.WithoutCancel(t.Context()), scope, "race", hashA, idempotency.TTL)
				states[i], errs[i] = out.State, err
			})
		}
		close(start)
		wg.Wait()
		counts := map[idempotency.State]int{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Begin %d: %v", i, errs[i])
			}
			counts[states[i]]++
		}
		if counts[idempotency.StateNew] != 1 || counts[idempotency.StateInProgress] != n-1 {
			t.Fatalf("outcomes = %v, want 1 new and %d in_progress", counts, n-1)
		}
	})
}

// TestConcurrentTakeOverOfExpiredKey: when a key has expired, concurrent requests race to replace it and
// exactly one wins.
func TestConcurrentTakeOverOfExpiredKey(t *testing.T) {
	eachStore(t, func(t *testing.T, s sweeper, c *clock) {
		out := begin(t, s, scope, "race", hashA)
		if err := s.Complete(t.Context(), scope, "race", out.Token, created); err != nil {
			t.Fatal(err)
		}
		c.Advance(idempotency.TTL)
		const n = 8
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			fresh int
		)
		for range n {
			wg.Go(func() {
				out, err := s.Begin(context.WithoutCancel(t.Context()), scope, "race", hashB, idempotency.TTL)
				if err != nil {
					t.Errorf("Begin: %v", err)
					return
				}
				if out.State == idempotency.StateNew {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Fatalf("%d requests took the expired key over, want 1", fresh)
		}
	})
}
