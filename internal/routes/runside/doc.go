// Package runside registers the /internal routes a running run's sidecar calls (API.md §3.8, §4.17; RUNTIME.md
// §5), authenticated by the run token (`Authorization: Bearer <runId>.<hmac>`) of a `running` run and limited
// to 200 requests per minute per path and token: run history, memory search, provider credentials (and their
// refresh), OAuth model tokens, and the LLM usage the sidecar meters.
package runside
