// Package credentialproxy serves ALL /api/credential-proxy/proxy (API.md §4.14): a caller's request forwarded
// to a provider's API with the credentials of the caller's connection injected (API keys and JWTs only).
package credentialproxy
