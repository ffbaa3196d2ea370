// Package cli serves the HTTP side of CLI authentication (API.md §2.3): the device authorization and token
// endpoints with their RFC 6749 error bodies, refresh-token revocation, the JWK set, the signed-in user's CLI
// sessions (cookie session only, Better Auth error bodies) and the org-admin cli-sessions routes. The rules
// live in internal/oidc.
package cli
