package store

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5/pgxpool"
)

// driver is what differs between dialects, in the manner of River's
// riverdriver: one small implementation per database, one test suite for
// both (see storetest.EachDialect).
type driver interface {
	dialect() Dialect
	db() *sql.DB
	pool() *pgxpool.Pool // nil except on PostgreSQL
	// migrationsTable is the DDL creating schema_migrations if absent.
	migrationsTable() string
	// lockMigrations serialises concurrent migrators until tx ends.
	lockMigrations(ctx context.Context, tx *sql.Tx) error
	close() error
}
