// Package webhooks serves the webhook routes (API.md §4.15): create (idempotent), list with the org-level /
// application-level semantics, get, update, delete, send a test event (really delivered), rotate the signing
// secret and list delivery attempts. Rules, SQL and delivery live in internal/webhooks.
package webhooks
