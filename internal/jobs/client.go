package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/appstrate/appstrate-go/internal/store"
)

// Queue is what services need from the job queue: insert jobs (inside their
// own transaction or not), register workers (through Register) and periodic
// jobs. *Client implements it.
type Queue interface {
	// Insert inserts a job in its own transaction. With unique options, a
	// duplicate is not inserted: the result then has UniqueSkippedAsDuplicate
	// set and carries the existing job.
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// InsertTx inserts a job inside tx: it becomes visible to workers when tx
	// commits and disappears if tx rolls back.
	InsertTx(ctx context.Context, tx *store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// AddPeriodic makes the leader insert the constructed job on schedule
	// (river.PeriodicInterval, or any river.PeriodicSchedule such as a cron
	// expression). It may be called before or after Start.
	AddPeriodic(schedule river.PeriodicSchedule, construct river.PeriodicJobConstructor, opts *river.PeriodicJobOpts) (rivertype.PeriodicJobHandle, error)
	// RemovePeriodic stops a periodic job added by AddPeriodic.
	RemovePeriodic(h rivertype.PeriodicJobHandle)
	// Workers is the bundle Register adds to; it must not change after Start.
	Workers() *river.Workers
}

var _ Queue = (*Client)(nil)

// Errors of the Client.
var (
	// ErrNoDatabase: the Client was built without a database (offline OpenAPI assembly).
	ErrNoDatabase = errors.New("jobs: no database")
	// ErrStarted: workers are registered before Start.
	ErrStarted = errors.New("jobs: client already started")
	// ErrNotLeaderEligible: periodic jobs need a client that takes part in leader election.
	ErrNotLeaderEligible = errors.New("jobs: periodic jobs need leader election (Options.LeaderElectionDisabled is set)")
)

// Defaults of Options.
const (
	DefaultMaxWorkers      = 100             // of the default queue when Options.Queues is empty
	DefaultStopCancelGrace = 5 * time.Second // see Options.StopCancelGrace
	// SQLite has no LISTEN, so River polls it, and a job inserted inside a transaction (a run is created with
	// its job) wakes no worker: it waits for the next poll. These defaults make that wait short.
	SQLiteFetchPollInterval = 50 * time.Millisecond
	SQLiteFetchCooldown     = 25 * time.Millisecond
)

// Options tunes the Client. The zero value gives River's defaults, noted on
// each field, and one queue (river.QueueDefault) of DefaultMaxWorkers.
type Options struct {
	// Logger receives River's logs; nil discards them.
	Logger *slog.Logger
	// Queues maps a queue name to the number of jobs of it worked at once.
	Queues map[string]int
	// ID names this client in River's tables (attempted_by, leader); empty
	// lets River pick the host name and start time.
	ID string
	// JobTimeout cancels the context of a job running longer (default 1 min).
	// A worker's Timeout method overrides it per job. -1 disables it, and
	// with it the rescue of stuck jobs (see RescueStuckJobsAfter).
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before the
	// leader considers its worker dead and retries (or discards, when its
	// attempts are spent) it (default 1 h, or JobTimeout + 1 h when larger).
	// It must be at least JobTimeout; a job is never rescued before its own
	// timeout either. Runs set it from their timeout ceiling plus a margin.
	RescueStuckJobsAfter time.Duration
	// MaxAttempts is the default number of attempts of a job (default 25).
	MaxAttempts int
	// RetryPolicy computes when a failed job is retried (default
	// river.DefaultClientRetryPolicy: attempt^4 seconds with jitter). A
	// worker's NextRetry method overrides it per job.
	RetryPolicy river.ClientRetryPolicy
	// FetchPollInterval is how often queues are polled for jobs when no
	// notification arrives (default 1 s; SQLiteFetchPollInterval on SQLite);
	// FetchCooldown the minimum time between two fetches (default 100 ms;
	// SQLiteFetchCooldown on SQLite). Tests shorten both.
	FetchPollInterval time.Duration
	FetchCooldown     time.Duration
	// CompletedJobRetentionPeriod is how long completed jobs are kept
	// (default 24 h; -1 forever).
	CompletedJobRetentionPeriod time.Duration
	// LeaderElectionDisabled keeps this client from ever leading: it works
	// jobs but enqueues no periodic job and rescues nothing (for processes
	// that must not schedule, e.g. an API-only role).
	LeaderElectionDisabled bool
	// Time is River's clock (nil = the real one). Tests stub it to move jobs
	// through time: attempts, retry schedules and due jobs all follow it.
	Time rivertype.TimeGenerator
	// StopCancelGrace is how long Stop waits for cancelled jobs to return
	// once its own deadline has passed (default DefaultStopCancelGrace).
	StopCancelGrace time.Duration
}

// Client is the platform's River client over a store.DB. It is safe for
// concurrent use. Build it with New, register workers, then Start.
type Client struct {
	river   *river.Client[*sql.Tx] // nil when err is set
	err     error                  // construction error, returned by every operation
	workers *river.Workers
	log     *slog.Logger
	grace   time.Duration
	leader  bool // takes part in leader election

	mu         sync.Mutex
	registered int // workers added through Register
	started    bool
	stopping   chan struct{} // closed when Stop begins (tests observe it)
}

// New builds a Client over db without touching the database: River's tables
// must exist (Migrate) before jobs are inserted or the client started. With a
// nil db every operation but Register and AddPeriodic fails with
// ErrNoDatabase. A configuration error is returned by every operation.
func New(db *store.DB, opts Options) *Client {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		workers:  river.NewWorkers(),
		log:      log,
		grace:    opts.StopCancelGrace,
		leader:   !opts.LeaderElectionDisabled,
		stopping: make(chan struct{}),
	}
	if c.grace <= 0 {
		c.grace = DefaultStopCancelGrace
	}
	if db == nil {
		c.err = ErrNoDatabase
		return c
	}
	if db.Dialect() != store.Postgres && opts.FetchPollInterval == 0 {
		opts.FetchPollInterval = SQLiteFetchPollInterval
		if opts.FetchCooldown == 0 || opts.FetchCooldown > opts.FetchPollInterval {
			opts.FetchCooldown = SQLiteFetchCooldown
		}
	}
	queues := map[string]river.QueueConfig{}
	for name, n := range opts.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	if len(queues) == 0 {
		queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: DefaultMaxWorkers}
	}
	rc, err := river.NewClient(riverDriver(db), &river.Config{
		ID:                          opts.ID,
		Logger:                      log,
		Queues:                      queues,
		Workers:                     c.workers,
		JobTimeout:                  opts.JobTimeout,
		RescueStuckJobsAfter:        opts.RescueStuckJobsAfter,
		MaxAttempts:                 opts.MaxAttempts,
		RetryPolicy:                 opts.RetryPolicy,
		FetchPollInterval:           opts.FetchPollInterval,
		FetchCooldown:               opts.FetchCooldown,
		CompletedJobRetentionPeriod: opts.CompletedJobRetentionPeriod,
		LeaderElectionDisabled:      opts.LeaderElectionDisabled,
		Test:                        river.TestConfig{Time: opts.Time},
	})
	if err != nil {
		c.err = fmt.Errorf("jobs: configure river: %w", err)
		return c
	}
	c.river = rc
	return c
}

// riverDriver picks River's driver for db. Both work on database/sql, so that
// InsertTx takes the *sql.Tx of a store transaction on either dialect. On
// PostgreSQL the listener (LISTEN/NOTIFY for new jobs, leadership and
// cancellation) uses a dedicated connection taken from the pgx pool.
func riverDriver(db *store.DB) riverdriver.Driver[*sql.Tx] {
	if db.Dialect() == store.Postgres {
		return riverdatabasesql.NewWithPgxListener(db.SQL(), db.Pool())
	}
	return riversqlite.New(db.SQL())
}

// Register adds the worker of the jobs of kind T. Register every worker
// before Start: a started Client refuses new workers.
func Register[T river.JobArgs](q Queue, w river.Worker[T]) error {
	c, _ := q.(*Client)
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.started {
			return ErrStarted
		}
	}
	if err := river.AddWorkerSafely(q.Workers(), w); err != nil {
		return fmt.Errorf("jobs: register worker: %w", err)
	}
	if c != nil {
		c.registered++
	}
	return nil
}

// Workers returns the bundle of registered workers.
func (c *Client) Workers() *river.Workers { return c.workers }

// River returns the underlying River client (nil without a database), for
// what the Queue interface does not cover: cancelling or listing jobs,
// subscribing to events.
func (c *Client) River() *river.Client[*sql.Tx] { return c.river }

// Insert inserts a job in its own transaction.
func (c *Client) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if c.err != nil {
		return nil, c.err
	}
	res, err := c.river.Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// InsertTx inserts a job inside the store transaction tx.
func (c *Client) InsertTx(ctx context.Context, tx *store.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	if c.err != nil {
		return nil, c.err
	}
	res, err := c.river.InsertTx(ctx, tx.SQL(), args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s in transaction: %w", args.Kind(), err)
	}
	return res, nil
}

// AddPeriodic adds a periodic job; it fires only while this client is the
// started leader. Give opts.ID to replace or remove it by ID later through
// River().PeriodicJobs().
func (c *Client) AddPeriodic(schedule river.PeriodicSchedule, construct river.PeriodicJobConstructor, opts *river.PeriodicJobOpts) (rivertype.PeriodicJobHandle, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !c.leader {
		return 0, ErrNotLeaderEligible
	}
	h, err := c.river.PeriodicJobs().AddSafely(river.NewPeriodicJob(schedule, construct, opts))
	if err != nil {
		return 0, fmt.Errorf("jobs: add periodic job: %w", err)
	}
	return h, nil
}

// RemovePeriodic removes a periodic job added by AddPeriodic.
func (c *Client) RemovePeriodic(h rivertype.PeriodicJobHandle) {
	if c.err != nil || !c.leader {
		return
	}
	c.river.PeriodicJobs().Remove(h)
}

// Start begins working jobs, electing a leader and running periodic jobs and
// maintenance, until Stop. ctx bounds the start-up checks only; cancelling it
// later does not stop the client (Stop does). Without any registered worker
// there is nothing to work and Start does nothing.
func (c *Client) Start(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return nil
	}
	if c.registered == 0 { // River refuses to start without workers
		c.log.Debug("jobs: no worker registered, job client not started")
		return nil
	}
	if err := c.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	c.started = true
	c.stopping = make(chan struct{})
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish until ctx
// is done; it then cancels their contexts and waits up to
// Options.StopCancelGrace more for them to return. Jobs still running after
// that are left to the rescuer of the next leader. Stop is a no-op on a
// client that was not started.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return nil
	}
	c.started = false
	close(c.stopping)
	err := c.river.Stop(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	c.log.Warn("jobs: stop deadline reached, cancelling running jobs", "grace", c.grace.String())
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.grace)
	defer cancel()
	if err := c.river.StopAndCancel(graceCtx); err != nil {
		return fmt.Errorf("jobs: stop: jobs still running after cancellation: %w", err)
	}
	return nil
}
