// Package realtime carries database change notifications to live subscribers (API.md §6): triggers on runs
// and run_logs raise `run_update` and `run_log_insert`, the run service raises `run_metric`; on PostgreSQL
// through LISTEN/NOTIFY (so every server process sees every change, without Redis), on SQLite through the
// store's in-process notify function. A Hub fans the notifications out to subscribers, each with its own
// bounded queue: a subscriber that cannot keep up is dropped rather than slowing writers down.
package realtime
