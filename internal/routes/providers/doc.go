// Package providers serves the provider routes (API.md §4.11, §4.3): GET|POST /api/providers,
// PUT|DELETE /api/providers/{scope}/{name}, the application's admin credentials of a provider
// (PUT|DELETE /api/providers/credentials/{scope}/{name} and the /api/applications/{applicationId}/providers
// rows), and the problem mapping shared with the connection and credential proxy routes.
package providers
