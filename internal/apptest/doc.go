// Package apptest runs scenario tests against the whole platform: a real App over a fresh SQLite file and a
// fresh PostgreSQL schema, requests through the full HTTP pipeline, and fixtures that seed users,
// organizations and applications directly in the database.
//
// Requests may authenticate as a seeded user with AsUser (a test-only strategy reading X-Test-User), so
// route tests do not depend on the sign-in flow; end-to-end walks use the real routes instead.
package apptest
