// Package runs registers the run routes (API.md §4.8): start a run, list, get, logs, cancel and delete.
package runs
