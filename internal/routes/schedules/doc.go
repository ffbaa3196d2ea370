// Package schedules serves the schedule routes (API.md §4.10): create, list, read, update (pause and resume
// through enabled), delete, and the runs a schedule fired.
package schedules
