//go:build !linux

package httpapi

// processFamilies is empty outside Linux: the process metrics are read from /proc.
func processFamilies() []family { return nil }
