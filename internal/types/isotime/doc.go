// Package isotime holds Time, the one timestamp type that crosses the API and
// the database: always UTC, always truncated to milliseconds, serialised as
// "2026-06-03T12:00:00.000Z" (API.md §3.1).
//
// The zero Time means "unset": it marshals to JSON null and to SQL NULL, and
// JSON null / SQL NULL scan back into the zero Time. Nullable columns and
// optional fields therefore need no pointer.
package isotime
