// Package oidc is the identity-provider side the CLI needs (API.md §2.3): the built-in public client
// appstrate-cli, RFC 8628 device authorizations approved in the browser, ES256 access JWTs signed with keys
// kept in the database (private halves encrypted with the platform keyring) and published as a JWK set,
// rotating refresh-token families with reuse detection, the CLI session views, and the JWT authentication
// strategy that turns a CLI bearer token into an oauth2-instance principal.
//
// The HTTP shapes live in internal/routes/cli and internal/routes/activate; this package owns the rules and
// the SQL.
package oidc
