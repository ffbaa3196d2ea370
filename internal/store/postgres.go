package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

const defaultConnectTimeout = 10 * time.Second

type postgresDriver struct {
	pgx *pgxpool.Pool
	sql *sql.DB
}

func openPostgres(ctx context.Context, opts Options) (driver, error) {
	cfg, where, err := parsePostgresURL(opts.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if opts.MaxOpenConns > 0 {
		cfg.MaxConns = int32(min(opts.MaxOpenConns, math.MaxInt32))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to postgres %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres %s: %w", where, err)
	}
	return &postgresDriver{pgx: pool, sql: stdlib.OpenDBFromPool(pool)}, nil
}

// parsePostgresURL parses raw and returns a description of the target that is
// safe to log (user, host, database; never the password or query).
func parsePostgresURL(raw string) (*pgxpool.Config, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // url.Error repeats the URL, password included
			err = ue.Err
		}
		return nil, "", fmt.Errorf("store: malformed DATABASE_URL: %v", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, "", fmt.Errorf("store: DATABASE_URL scheme %q is not postgres:// or postgresql://", u.Scheme)
	}
	where := u.Host + u.Path
	if u.User != nil {
		where = u.User.Username() + "@" + where
	}
	cfg, err := pgxpool.ParseConfig(raw) // pgconn redacts the password in its errors
	if err != nil {
		return nil, "", fmt.Errorf("store: invalid DATABASE_URL for %s: %w", where, err)
	}
	return cfg, where, nil
}

func (d *postgresDriver) dialect() Dialect    { return Postgres }
func (d *postgresDriver) db() *sql.DB         { return d.sql }
func (d *postgresDriver) pool() *pgxpool.Pool { return d.pgx }

func (d *postgresDriver) close() error {
	err := d.sql.Close()
	d.pgx.Close()
	return err
}

func (d *postgresDriver) migrationsTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL
)`
}

// lockMigrations takes a transaction-scoped advisory lock keyed on the
// current schema, so servers starting together migrate one after the other
// while migrators of different schemas (parallel tests) do not wait.
func (d *postgresDriver) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx,
		`SELECT pg_advisory_xact_lock(hashtextextended('appstrate.migrate:' || coalesce(current_schema(), ''), 0))`)
	if err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}
