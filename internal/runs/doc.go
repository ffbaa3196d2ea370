// Package runs owns agent runs on the platform side (API.md §4.8, §5 items 9–13; RUNTIME.md §1): admission
// (input and config validation, provider readiness, org rate and concurrency limits), the run row and its
// River job created in one transaction, the worker that executes the run through an executor.Executor, the
// run sink the runner reports through, the single conditional finalize, cancellation, reads (get, lists,
// logs), deletion, remote runs, inline runs, the /internal run side, and the watchdog that fails runs whose
// process died.
//
// Inline runs (inline.go): an ad-hoc manifest and prompt, checked against INLINE_RUN_LIMITS and validated as
// an AFPS agent manifest, are kept as an ephemeral package @inline/r-<uuid> inserted in the transaction of the
// run, which is then admitted and executed as any agent run; an hourly sweep deletes the shadow packages past
// their retention once their run ended (the runs stay).
//
// The sink (sink.go, ingest.go): the worker opens it when it claims a run (OpenSink: a 32-byte secret sealed
// with the keyring), a remote run gets it at creation. Requests are authenticated by the Standard Webhooks
// signature over the raw body. Events are applied strictly in sequence order with a compare-and-set on
// runs.last_event_sequence; an event ahead of its turn waits in the run_event_buffer table — in the
// database rather than in memory, so every process sharing a PostgreSQL database drains the same buffer —
// until the gap fills, a terminal event arrives or the run finalizes (which applies what is left, accepting
// gaps). webhook-ids are remembered in run_event_receipts for the replay window.
//
// Finalize (finalize.go) is the single convergence point: the runner's finalize, the worker's exit
// synthesis, cancel and the watchdog all call finalizeResult, and exactly one wins the conditional UPDATE
// on sink_closed_at IS NULL. Persistence (memories, pinned slots) is validated before it, so an invalid
// finalize body is refused with nothing written. A run's cost is what the platform metered itself
// (llm_usage 'proxy' rows, from the sidecar) when there is any, else what the runner reported.
//
// Cancellation: the cancel route finalizes the run `cancelled` at once (conditional UPDATE), then cancels the
// run's context in this process (an in-process map of running runs) and asks River to cancel the run's job,
// which reaches the process working it on PostgreSQL through LISTEN/NOTIFY; either way the worker kills the
// execution and its own finalize is a no-op.
//
// Crashes: the worker bumps runs.last_heartbeat_at every RUN_HEARTBEAT_INTERVAL_SECONDS while it executes,
// and so does every accepted sink request. The watchdog (a River periodic job, at start and every
// RUN_WATCHDOG_INTERVAL_SECONDS, leader only) fails `running` platform runs whose heartbeat is older than
// RUN_STALL_THRESHOLD_SECONDS and `pending` ones whose job can no longer run, with ErrorRestarted, and remote
// runs whose runner stopped reporting. Runs are not resumed: a run interrupted by a crash ends `failed`. A
// worker whose context is cancelled by a shutdown (not by a cancel) kills the execution and leaves the row
// alone, exactly as a crash would, so the same watchdog path finalizes it.
package runs
