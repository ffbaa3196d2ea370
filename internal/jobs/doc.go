// Package jobs is the durable job queue and scheduler of the platform: River
// (riverqueue) on the platform's own database, the SQLite driver in Tier 0 and
// PostgreSQL otherwise, behind one non-generic Client.
//
// Work that must survive a restart (runs, schedule fires, webhook deliveries)
// is a job: a row in River's tables, inserted in the same transaction as the
// rows it is about (InsertTx) so that a rolled-back request leaves no job and
// a committed one always has its job. Workers are registered with Register
// before Start; periodic jobs are added with AddPeriodic at any time.
//
// # Schema
//
// River's tables are not in the store's migrations: Migrate applies River's
// own migrations (rivermigrate) for the database's dialect, right after
// store.Open. Concurrent starters are serialised (a PostgreSQL advisory lock
// keyed on the schema; on SQLite one write transaction).
//
// # Several processes
//
// Every started Client takes part in leader election. Jobs are distributed
// among all started clients (FOR UPDATE SKIP LOCKED on PostgreSQL, the write
// lock on SQLite), but only the elected leader enqueues periodic jobs, rescues
// stuck jobs and promotes scheduled and retryable ones. Several serve
// processes on one PostgreSQL schema therefore fire a periodic job once per
// period in total. Tier 0 is one process, but the same holds for several
// processes sharing one SQLite file: River's SQLite driver elects its leader
// through the river_leader table.
//
// River's periodic scheduler keeps its next fire times in memory: a new leader
// (after a restart or a failover) starts its schedules afresh. Exactly-once
// firing across such changes needs a unique key naming the period, e.g.
// river.UniqueOpts{ByPeriod: d} with a schedule aligned on d (the job's
// ScheduledAt is the target fire time, and ByPeriod truncates it), or the fire
// time in the args with ByArgs.
//
// # Crashes
//
// A job whose process died while working it stays "running" until the
// leader's rescuer sees it older than both Options.RescueStuckJobsAfter and
// its timeout (the worker's Timeout, else Options.JobTimeout): it is then
// retried if it has attempts left, discarded otherwise. The rescuer runs when
// a client becomes leader and every 30 s after. Workers must therefore be
// idempotent or detect a previous attempt (job.Attempt > 1). A job whose kind
// the leader has no worker for is discarded by the rescuer, so every process
// that may become leader registers every worker (or sets
// Options.LeaderElectionDisabled).
package jobs
