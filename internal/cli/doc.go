// Package cli is the command tree of the appstrate binary (cobra): `serve`, `version`, and later the sidecar,
// runner and client commands. Commands parse flags and call services; they hold no business rules.
package cli
