// Package ids mints and checks the prefixed identifiers of API.md §3.1:
// a fixed prefix such as "run_" followed by a lowercase UUIDv4
// ("run_0f8fad5b-d9cb-469f-a165-70867728950e").
package ids
