// Package providers owns provider definitions and connections (PACKAGES.md §4): the providers an
// organization sees (system and custom) with each application's admin credentials and enablement, the
// connection flows of every auth mode (OAuth 2 with PKCE, OAuth 1.0a, API key, basic, custom credentials),
// the encrypted connection rows and their refresh, connection profiles, and the credential proxy that
// injects a connection's credentials into a request to an authorized URI. Injection rules themselves live in
// internal/credentials, SSRF protection in internal/netguard, encryption in internal/secrets.
package providers
