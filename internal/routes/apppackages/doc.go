// Package apppackages serves per-application installation (API.md §4.3, §5 items 5 and 23):
// /api/applications/{applicationId}/packages[/{scope}/{name}[/run-config]]. It also holds the caller and error
// mapping shared by the agents and library routes.
package apppackages
