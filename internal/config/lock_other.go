//go:build !unix

package config

// lockFile is a no-op where advisory file locks are unavailable.
func lockFile(string) (func(), error) { return func() {}, nil }
