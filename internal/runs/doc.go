// Package runs owns agent runs on the platform side (API.md §4.8, §5 items 9–13; RUNTIME.md §1): admission
// (input and config validation, provider readiness, org rate and concurrency limits), the run row and its
// River job created in one transaction, the worker that executes the run through an executor.Executor, the
// single conditional finalize, cancellation, reads (get, lists, logs), deletion, and the watchdog that fails
// runs whose process died.
//
// Cancellation: the cancel route finalizes the run `cancelled` at once (conditional UPDATE), then cancels the
// run's context in this process (an in-process map of running runs) and asks River to cancel the run's job,
// which reaches the process working it on PostgreSQL through LISTEN/NOTIFY; either way the worker kills the
// execution and its own finalize is a no-op.
//
// Crashes: the worker bumps runs.last_heartbeat_at every RUN_HEARTBEAT_INTERVAL_SECONDS while it executes.
// The watchdog (a River periodic job, at start and every RUN_WATCHDOG_INTERVAL_SECONDS, leader only) fails
// `running` runs whose heartbeat is older than RUN_STALL_THRESHOLD_SECONDS and `pending` runs whose job can
// no longer run, with ErrorRestarted. Runs are not resumed: a run interrupted by a crash ends `failed`. A
// worker whose context is cancelled by a shutdown (not by a cancel) kills the execution and leaves the row
// alone, exactly as a crash would, so the same watchdog path finalizes it.
package runs
