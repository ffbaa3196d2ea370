// Package storetest gives tests a fresh, migrated store.DB on each dialect:
// SQLite in a temporary directory and PostgreSQL in a throwaway schema of the
// server named by APPSTRATE_TEST_DATABASE_URL (a superuser URL to an existing
// database; ./scripts/test starts one). Without that variable PostgreSQL
// tests are skipped, or fail when CI is set.
package storetest
