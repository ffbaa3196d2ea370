// Package webhooks owns outbound webhooks (API.md §3.7, §4.15; PLATFORM.md §2.3): the org-level and
// application-level endpoints of an organization, their secrets (encrypted at rest, rotated with a
// dual-signature window), the URL rules, Publish (which turns a run event into one durable delivery job per
// matching webhook, inside the caller's transaction) and the delivery worker, which signs each attempt with
// Standard Webhooks headers, refuses internal destinations at connection time, retries on the upstream
// schedule and records every attempt in webhook_deliveries.
package webhooks
