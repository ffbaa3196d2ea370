// Package realtime serves the live run streams (API.md §4.9, §6): Server-Sent Events of run updates, log
// lines and metrics, authenticated from the query string (?token=ask_… or the session cookie with
// ?orgId=&applicationId=) because browsers' EventSource cannot send headers.
package realtime
