// Package idempotency stores the outcome of requests sent with an
// Idempotency-Key (API.md §3.6) so that a retried request replays the first
// response instead of acting twice.
//
// A Store records, per (scope, key), the SHA-256 of the request body and,
// once the request is done, its status, meaningful headers and body. The
// HTTP glue lives in httpapi.Idempotent; this package knows nothing of HTTP
// routing. Implementations: DB (SQLite and PostgreSQL, table
// idempotency_keys) and Memory (tests, single process). A Redis one can
// follow: the interface is three calls with a lease token.
package idempotency
