// Package sink is the wire protocol between a runner and the platform (RUNTIME.md §1.4, §1.5, §4.8): the
// CloudEvents 1.0 envelope of run events, the terminal RunResult, and their Standard Webhooks signature keyed
// by the run's sink secret. The runner side (an HTTP client with sequence numbers, retries and heartbeats)
// and the platform side (ingestion in internal/runs) both speak it through these types.
package sink
