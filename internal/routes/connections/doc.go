// Package connections serves /api/connections (API.md §4.11, PACKAGES.md §4.5–§4.6): listing, the
// integrations view, the OAuth 2 / OAuth 1.0a start, API key and credential submission, disconnection, and the
// public OAuth callback page.
package connections
