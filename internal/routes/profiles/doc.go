// Package profiles serves connection profiles (API.md §4.11): the caller's own profiles at
// /api/connection-profiles and the application-owned profiles, their provider bindings and the caller's
// connections at /api/app-profiles.
package profiles
