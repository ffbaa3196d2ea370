// Package library serves GET /api/library: the organization's packages with the applications they are
// installed in (PACKAGES.md §2.5).
package library
