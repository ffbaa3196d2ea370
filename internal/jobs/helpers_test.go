package jobs

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/store"
)

// waitTimeout bounds every wait of these tests; none asserts a duration.
const waitTimeout = 45 * time.Second

// testOptions polls often so tests do not wait on River's production intervals.
func testOptions(t testing.TB) Options {
	return Options{
		Logger:            slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: testLogLevel})),
		Queues:            map[string]int{river.QueueDefault: 10},
		FetchPollInterval: 50 * time.Millisecond,
		FetchCooldown:     5 * time.Millisecond,
	}
}

// migrated applies River's migrations to db.
func migrated(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	if err := Migrate(t.Context(), db, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// riverVersions lists the migrations River ships for db's dialect.
func riverVersions(t testing.TB, db *store.DB) []rivermigrate.Migration {
	t.Helper()
	var m interface {
		AllVersions() []rivermigrate.Migration
	}
	var err error
	if db.Dialect() == store.Postgres {
		m, err = rivermigrate.New(riverdatabasesql.New(db.SQL()), nil)
	} else {
		m, err = rivermigrate.New(riversqlite.New(db.SQL()), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m.AllVersions()
}

// openStore opens one more handle (its own pool) on the database named by opts.
func openStore(t testing.TB, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return db
}

// startClient starts c and stops it (generously) when the test ends.
func startClient(t testing.TB, c *Client) {
	t.Helper()
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobRow reads a job through c.
func jobRow(t testing.TB, c *Client, id int64) *rivertype.JobRow {
	t.Helper()
	row, err := c.River().JobGet(t.Context(), id)
	if err != nil {
		t.Fatalf("JobGet %d: %v", id, err)
	}
	return row
}

// countJobs counts the rows of river_job of the given kind.
func countJobs(t testing.TB, db *store.DB, kind string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM river_job WHERE kind = ?`, kind).Scan(&n); err != nil {
		t.Fatalf("count jobs: %v", err)
	}
	return n
}

// recordArgs is a job that records its key when worked.
type recordArgs struct {
	Key string `json:"key"`
}

func (recordArgs) Kind() string { return "jobs_test_record" }

// recorder counts the executions of recordArgs jobs per key.
type recorder struct {
	river.WorkerDefaults[recordArgs]
	mu     sync.Mutex
	counts map[string]int
	// check, when set, runs inside Work; its result is recorded under "check:" + key.
	check func(ctx context.Context, key string) bool
	ok    map[string]bool
}

func newRecorder() *recorder { return &recorder{counts: map[string]int{}, ok: map[string]bool{}} }

func (r *recorder) Work(ctx context.Context, job *river.Job[recordArgs]) error {
	var ok bool
	if r.check != nil {
		ok = r.check(ctx, job.Args.Key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[job.Args.Key]++
	r.ok[job.Args.Key] = ok
	return nil
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[key]
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// testLogLevel is the level of River's logs in tests; LevelDebug shows elections, fetches and maintenance.
var testLogLevel = slog.LevelWarn
