// Package app assembles the platform from a Config: logger, store, services and the HTTP transport, and runs
// it with graceful shutdown. cmd/appstrate only parses flags and calls into here.
package app
