package jobs

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestInsertIsWorkedExactlyOnce(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		c := New(db, testOptions(t))
		rec := newRecorder()
		if err := Register(c, rec); err != nil {
			t.Fatal(err)
		}
		startClient(t, c)

		const n = 20
		ids := make([]int64, n)
		for i := range n {
			res, err := c.Insert(t.Context(), recordArgs{Key: strconv.Itoa(i)}, nil)
			if err != nil {
				t.Fatalf("Insert: %v", err)
			}
			ids[i] = res.Job.ID
		}
		waitFor(t, "every job worked", func() bool { return len(rec.snapshot()) == n })
		stopNow(t, c)

		for i, id := range ids {
			if got := rec.count(strconv.Itoa(i)); got != 1 {
				t.Errorf("job %d worked %d times, want 1", i, got)
			}
			if row := jobRow(t, c, id); row.State != rivertype.JobStateCompleted || row.Attempt != 1 {
				t.Errorf("job %d: state %s attempt %d, want completed after 1 attempt", i, row.State, row.Attempt)
			}
		}
	})
}

func TestInsertTxFollowsTheTransaction(t *testing.T) {
	errRollback := errors.New("roll back")
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		if _, err := db.ExecContext(t.Context(), `CREATE TABLE jobs_test_runs (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		c := New(db, testOptions(t))
		rec := newRecorder()
		rec.check = func(ctx context.Context, key string) bool { // the job sees the row committed with it
			var n int
			err := db.QueryRowContext(ctx, `SELECT count(*) FROM jobs_test_runs WHERE id = ?`, key).Scan(&n)
			return err == nil && n == 1
		}
		if err := Register(c, rec); err != nil {
			t.Fatal(err)
		}
		startClient(t, c)

		insertRun := func(id string, commit bool) error {
			return db.InTx(t.Context(), func(tx *store.Tx) error {
				if _, err := tx.ExecContext(t.Context(), `INSERT INTO jobs_test_runs (id) VALUES (?)`, id); err != nil {
					return err
				}
				if _, err := c.InsertTx(t.Context(), tx, recordArgs{Key: id}, nil); err != nil {
					return err
				}
				if !commit {
					return errRollback
				}
				return nil
			})
		}
		if err := insertRun("rolled-back", false); !errors.Is(err, errRollback) {
			t.Fatalf("rolled-back transaction: %v", err)
		}
		if got := countJobs(t, db, recordArgs{}.Kind()); got != 0 {
			t.Fatalf("after rollback: %d jobs, want 0", got)
		}
		if err := insertRun("committed", true); err != nil {
			t.Fatalf("committed transaction: %v", err)
		}
		waitFor(t, "committed job worked", func() bool { return rec.count("committed") == 1 })
		stopNow(t, c)

		if !rec.ok["committed"] {
			t.Error("the committed job did not see the row inserted in its transaction")
		}
		if got := rec.count("rolled-back"); got != 0 {
			t.Errorf("rolled-back job worked %d times", got)
		}
		if got := countJobs(t, db, recordArgs{}.Kind()); got != 1 {
			t.Errorf("%d jobs in river_job, want 1", got)
		}
	})
}

func TestUniqueJobsAreInsertedOnce(t *testing.T) {
	later := time.Now().Add(48 * time.Hour).Truncate(time.Hour) // scheduled, so nothing works them meanwhile
	byArgs := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	byHour := func(at time.Time) *river.InsertOpts {
		return &river.InsertOpts{ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
	}
	type insert struct {
		key  string
		opts *river.InsertOpts
		inTx bool
	}
	tests := []struct {
		name      string
		first     insert
		second    insert
		duplicate bool
	}{
		{"same args are a duplicate", insert{"a", byArgs, false}, insert{"a", byArgs, false}, true},
		{"other args are not", insert{"b", byArgs, false}, insert{"c", byArgs, false}, false},
		{"a duplicate inserted in a transaction", insert{"d", byArgs, false}, insert{"d", byArgs, true}, true},
		{"same period is a duplicate", insert{"e", byHour(later.Add(time.Minute)), false}, insert{"f", byHour(later.Add(2 * time.Minute)), false}, true},
		{"next period is not", insert{"g", byHour(later.Add(25 * time.Hour)), false}, insert{"h", byHour(later.Add(26 * time.Hour)), false}, false},
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		c := New(db, testOptions(t))
		if err := Register(c, newRecorder()); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				do := func(in insert) *rivertype.JobInsertResult {
					var res *rivertype.JobInsertResult
					var err error
					if in.inTx {
						err = db.InTx(t.Context(), func(tx *store.Tx) error {
							res, err = c.InsertTx(t.Context(), tx, recordArgs{Key: in.key}, in.opts)
							return err
						})
					} else {
						res, err = c.Insert(t.Context(), recordArgs{Key: in.key}, in.opts)
					}
					if err != nil {
						t.Fatalf("insert %q: %v", in.key, err)
					}
					return res
				}
				first, second := do(tt.first), do(tt.second)
				if first.UniqueSkippedAsDuplicate {
					t.Fatal("first insert reported as a duplicate")
				}
				if second.UniqueSkippedAsDuplicate != tt.duplicate {
					t.Fatalf("second insert: duplicate=%v, want %v", second.UniqueSkippedAsDuplicate, tt.duplicate)
				}
				if sameJob := second.Job.ID == first.Job.ID; sameJob != tt.duplicate {
					t.Errorf("second insert returned job %d, first was %d", second.Job.ID, first.Job.ID)
				}
			})
		}
	})
}

func TestPeriodicJobFires(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		c := New(db, testOptions(t))
		rec := newRecorder()
		if err := Register(c, rec); err != nil {
			t.Fatal(err)
		}
		_, err := c.AddPeriodic(river.PeriodicInterval(time.Second), func() (river.JobArgs, *river.InsertOpts) {
			return recordArgs{Key: "tick"}, nil
		}, &river.PeriodicJobOpts{ID: "tick", RunOnStart: true})
		if err != nil {
			t.Fatalf("AddPeriodic: %v", err)
		}
		startClient(t, c)
		waitFor(t, "a fire on start and one on schedule", func() bool { return rec.count("tick") >= 2 })
	})
}

func TestAddPeriodicNeedsLeaderElection(t *testing.T) {
	db := storetest.SQLite(t)
	opts := testOptions(t)
	opts.LeaderElectionDisabled = true
	c := New(db, opts)
	_, err := c.AddPeriodic(river.PeriodicInterval(time.Minute), func() (river.JobArgs, *river.InsertOpts) {
		return recordArgs{}, nil
	}, nil)
	if !errors.Is(err, ErrNotLeaderEligible) {
		t.Fatalf("AddPeriodic on a client without leader election: %v, want ErrNotLeaderEligible", err)
	}
}

// blockArgs is a job whose worker blocks until released or cancelled.
type blockArgs struct{}

func (blockArgs) Kind() string { return "jobs_test_block" }

type blockWorker struct {
	river.WorkerDefaults[blockArgs]
	started chan struct{}
	release chan struct{}

	mu       sync.Mutex
	finished bool      // returned after release
	canceled time.Time // when it saw its context cancelled
}

func (w *blockWorker) Work(ctx context.Context, _ *river.Job[blockArgs]) error {
	close(w.started)
	select {
	case <-w.release:
		w.mu.Lock()
		w.finished = true
		w.mu.Unlock()
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		w.canceled = time.Now()
		w.mu.Unlock()
		return ctx.Err()
	}
}

func TestStopWaitsForRunningJobs(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		c := New(db, testOptions(t))
		w := &blockWorker{started: make(chan struct{}), release: make(chan struct{})}
		if err := Register(c, w); err != nil {
			t.Fatal(err)
		}
		startClient(t, c)
		res, err := c.Insert(t.Context(), blockArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		<-w.started

		stopping := c.stopping
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			stopped <- c.Stop(ctx)
		}()
		<-stopping // Stop has begun while the job runs
		close(w.release)
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
		w.mu.Lock()
		finished, canceled := w.finished, !w.canceled.IsZero()
		w.mu.Unlock()
		if !finished || canceled {
			t.Fatalf("when Stop returned: job finished=%v cancelled=%v, want finished and not cancelled", finished, canceled)
		}
		if row := jobRow(t, c, res.Job.ID); row.State != rivertype.JobStateCompleted {
			t.Errorf("job state %s, want completed", row.State)
		}
	})
}

func TestStopCancelsJobsAfterItsDeadline(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		migrated(t, db)
		c := New(db, testOptions(t))
		w := &blockWorker{started: make(chan struct{}), release: make(chan struct{})} // never released
		if err := Register(c, w); err != nil {
			t.Fatal(err)
		}
		startClient(t, c)
		res, err := c.Insert(t.Context(), blockArgs{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		<-w.started

		deadline := time.Now().Add(200 * time.Millisecond)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v (the cancelled job returned, so Stop should succeed)", err)
		}
		w.mu.Lock()
		canceled := w.canceled
		w.mu.Unlock()
		if canceled.IsZero() {
			t.Fatal("the running job's context was not cancelled")
		}
		if canceled.Before(deadline) {
			t.Errorf("job cancelled at %v, before Stop's deadline %v", canceled, deadline)
		}
		// River puts a job interrupted by a stop back in the queue, without counting an error: the next
		// process to start works it again.
		if row := jobRow(t, c, res.Job.ID); row.State != rivertype.JobStateAvailable || len(row.Errors) != 0 {
			t.Errorf("job state %s with %d errors, want available again with no error", row.State, len(row.Errors))
		}
	})
}

func TestClientWithoutDatabase(t *testing.T) {
	c := New(nil, Options{})
	if err := Register(c, newRecorder()); err != nil {
		t.Fatalf("Register without a database: %v", err)
	}
	if _, err := c.Insert(t.Context(), recordArgs{}, nil); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("Insert: %v, want ErrNoDatabase", err)
	}
	if err := c.Start(t.Context()); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("Start: %v, want ErrNoDatabase", err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Errorf("Stop of a client never started: %v", err)
	}
}

func TestStartWithoutWorkersIsANoOp(t *testing.T) {
	db := migrated(t, storetest.SQLite(t))
	c := New(db, testOptions(t))
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := c.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := Register(c, newRecorder()); err != nil { // still not started: registering is allowed
		t.Fatalf("Register: %v", err)
	}
}

func TestRegisterAfterStartIsRefused(t *testing.T) {
	db := migrated(t, storetest.SQLite(t))
	c := New(db, testOptions(t))
	if err := Register(c, newRecorder()); err != nil {
		t.Fatal(err)
	}
	startClient(t, c)
	w := &blockWorker{}
	if err := Register(c, w); !errors.Is(err, ErrStarted) {
		t.Fatalf("Register after Start: %v, want ErrStarted", err)
	}
}

// Several processes starting together on a fresh database all migrate River's schema without error,
// and a later start finds nothing to do.
func TestMigrateConcurrentlyAndAgain(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		dbs := []*store.DB{openStore(t, opts), openStore(t, opts), openStore(t, opts)}
		errs := make(chan error, len(dbs))
		for _, db := range dbs {
			go func() { errs <- Migrate(t.Context(), db, nil) }()
		}
		for range dbs {
			if err := <-errs; err != nil {
				t.Fatalf("concurrent Migrate: %v", err)
			}
		}
		migrated(t, dbs[0])
		var versions int
		if err := dbs[0].QueryRowContext(t.Context(), `SELECT count(*) FROM river_migration`).Scan(&versions); err != nil {
			t.Fatal(err)
		}
		if want := len(riverVersions(t, dbs[0])); versions != want {
			t.Fatalf("river_migration has %d versions, want %d", versions, want)
		}
	})
}

// stopNow stops c, failing the test if its jobs do not return in time.
func stopNow(t testing.TB, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}
