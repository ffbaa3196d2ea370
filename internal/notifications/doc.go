// Package notifications counts and acknowledges finished runs (API.md §4.8, last four rows): a run is unread
// for its actor once it finished (notified_at is set by finalize) until read_at is set. The actor is the
// user who started it, or the impersonated end-user; counts are per application.
package notifications
