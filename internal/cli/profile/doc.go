// Package profile holds the CLI's local state, in the formats the upstream CLI shares with it (CLI.md A2, A3):
// the profiles of config.toml (rewritten with unknown keys and comments preserved), the token store (OS
// keyring, service "appstrate", account = profile, with the credentials.json 0600 fallback) and the
// cross-process file lock held around load→refresh→save so two CLI processes never present the same
// refresh token.
package profile
