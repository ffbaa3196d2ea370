package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options selects and tunes the database. The zero value is invalid: set
// SQLitePath (Tier 0) or DatabaseURL.
type Options struct {
	// DatabaseURL is a postgres:// or postgresql:// URL; empty means SQLite.
	DatabaseURL string
	// SQLitePath is the database file, used when DatabaseURL is empty. Its
	// parent directory is created (0700) if missing.
	SQLitePath string
	// Logger receives migration and error logs; nil discards them.
	Logger *slog.Logger
	// MaxOpenConns caps the connection pool; 0 picks a default per dialect.
	MaxOpenConns int
}

// DB is an open database, safe for concurrent use.
type DB struct {
	drv     driver
	sql     *sql.DB
	dialect Dialect
	log     *slog.Logger
}

// Open connects to the database chosen by opts, checks it answers and applies
// pending migrations.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	drv, err := openDriver(ctx, opts)
	if err != nil {
		return nil, err
	}
	db := &DB{drv: drv, sql: drv.db(), dialect: drv.dialect(), log: log.With("dialect", string(drv.dialect()))}
	if err := db.Migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

func openDriver(ctx context.Context, opts Options) (driver, error) {
	if opts.DatabaseURL != "" {
		return openPostgres(ctx, opts)
	}
	if opts.SQLitePath == "" {
		return nil, errors.New("store: neither DatabaseURL nor SQLitePath is set")
	}
	return openSQLite(ctx, opts)
}

// Dialect returns which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the database/sql handle (over the pgx pool on PostgreSQL), for
// libraries such as the job queue. Queries through it are not rebound.
func (db *DB) SQL() *sql.DB { return db.sql }

// Pool returns the pgx pool on PostgreSQL and nil on SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.drv.pool() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", db.dialect, err)
	}
	return nil
}

// Close releases every connection. The DB must not be used afterwards.
func (db *DB) Close() error {
	if err := db.drv.close(); err != nil {
		return fmt.Errorf("store: close %s: %w", db.dialect, err)
	}
	return nil
}
