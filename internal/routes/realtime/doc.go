// Package realtime serves the live run streams (API.md §4.9, §6): Server-Sent Events of run updates, log
// lines and metrics, authenticated from the query string (?token=ask_… or the session cookie with
// ?orgId=&applicationId=) because browsers' EventSource cannot send headers. A per-run stream opened with ?since=<logId> first replays
// the run's log rows after that id, then continues live without duplicates (upstream has no replay).
package realtime
