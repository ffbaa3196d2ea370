// Package notifications serves the unread-run counters and their acknowledgement (API.md §4.8).
package notifications
