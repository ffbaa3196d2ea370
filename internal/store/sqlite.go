package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

type sqliteDriver struct{ sql *sql.DB }

// sqliteCacheKiB bounds each connection's page cache (SQLite's default is 2000 KiB). In WAL mode a connection
// drops its whole cache when another one has committed since its last read, which the job queue's leader
// election alone does every few seconds, so a larger cache mostly holds pages about to be discarded (re-reads
// come from the OS page cache). And modernc.org/sqlite's allocator keeps the memory it once held mapped, so the
// caches' high-water mark stays resident for the life of the process: 512 KiB takes 1.5 MB off an idle Tier 0
// server (bench/startup).
const sqliteCacheKiB = 512

func openSQLite(ctx context.Context, opts Options) (driver, error) {
	path := filepath.Clean(opts.SQLitePath)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create sqlite directory: %w", err)
	}
	// Create the file owner-only before SQLite does: its -wal and -shm files inherit these permissions.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create sqlite file: %w", err)
	}
	_ = f.Close()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	n := opts.MaxOpenConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n) // keep connections: each one replays the pragmas
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	return &sqliteDriver{sql: db}, nil
}

// sqliteDSN builds the modernc.org/sqlite DSN for path: WAL, foreign keys,
// a 10 s busy timeout, BEGIN IMMEDIATE for transactions (no deadlock when a
// reader upgrades to writer), times written as
// "2006-01-02 15:04:05.999999999-07:00", which sorts lexically in UTC, and a
// page cache of sqliteCacheKiB per connection.
func sqliteDSN(path string) string {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)",
		fmt.Sprintf("cache_size(-%d)", sqliteCacheKiB)} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func (d *sqliteDriver) dialect() Dialect    { return SQLite }
func (d *sqliteDriver) db() *sql.DB         { return d.sql }
func (d *sqliteDriver) pool() *pgxpool.Pool { return nil }
func (d *sqliteDriver) close() error        { return d.sql.Close() }
func (d *sqliteDriver) migrationsTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`
}

// lockMigrations is a no-op: the transaction began IMMEDIATE and already
// holds the database write lock.
func (d *sqliteDriver) lockMigrations(context.Context, *sql.Tx) error { return nil }
