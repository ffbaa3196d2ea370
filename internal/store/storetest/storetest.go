package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/appstrate/appstrate-go/internal/store"
)

// EnvDatabaseURL names the environment variable holding the PostgreSQL
// server used by tests.
const EnvDatabaseURL = "APPSTRATE_TEST_DATABASE_URL"

// pgMaxConns keeps parallel test packages within the server's connection limit.
const pgMaxConns = 4

// EachDialect runs fn as the subtests "sqlite" and "postgres", each with a
// fresh migrated database closed (and dropped) at the end of the subtest.
func EachDialect(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		fn(t, open(t, opts))
	})
}

// EachDialectOptions is EachDialect for tests that open the store
// themselves: fn gets Options naming a fresh, empty database.
func EachDialectOptions(t *testing.T, fn func(t *testing.T, opts store.Options)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			t.Logf("dialect=%s", d)
			fn(t, Options(t, d))
		})
	}
}

// SQLite returns a fresh migrated SQLite database in t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, SQLiteOptions(t))
}

// Postgres returns a fresh migrated database in its own PostgreSQL schema,
// dropped when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return open(t, PostgresOptions(t))
}

// Options returns Options naming a fresh, empty database of dialect d.
func Options(t testing.TB, d store.Dialect) store.Options {
	t.Helper()
	if d == store.Postgres {
		return PostgresOptions(t)
	}
	return SQLiteOptions(t)
}

// SQLiteOptions returns Options for a new SQLite file in t.TempDir().
func SQLiteOptions(t testing.TB) store.Options {
	t.Helper()
	return store.Options{SQLitePath: filepath.Join(t.TempDir(), "appstrate.db"), Logger: logger(t)}
}

// PostgresOptions creates an empty schema t_<random> (dropped with CASCADE
// when the test ends) and returns Options whose URL selects it through
// search_path. It skips the test, or fails it under CI, when no server is
// configured.
func PostgresOptions(t testing.TB) store.Options {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set (required when CI is set)", EnvDatabaseURL)
		}
		t.Skip("PostgreSQL not configured: run ./scripts/test")
	}
	schema := "t_" + randomHex(t)
	admin(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvDatabaseURL) // the error would print the password
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return store.Options{DatabaseURL: u.String(), Logger: logger(t), MaxOpenConns: pgMaxConns}
}

func open(t testing.TB, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return db
}

// admin runs one statement on a short-lived superuser connection.
func admin(t testing.TB, base, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDatabaseURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func randomHex(t testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// logger sends warnings and errors of the store to the test log.
func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
