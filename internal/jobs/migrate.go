package jobs

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/appstrate/appstrate-go/internal/store"
)

// Migrate applies River's pending migrations to db (its own migration line,
// recorded in river_migration, never in the store's schema_migrations). It is
// idempotent and cheap when nothing is pending, and safe when several
// processes start together: on PostgreSQL they take turns on an advisory lock
// keyed on the current schema; on SQLite the migrations run in one write
// transaction.
func Migrate(ctx context.Context, db *store.DB, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := &rivermigrate.Config{Logger: logger}
	var err error
	if db.Dialect() == store.Postgres {
		err = migratePostgres(ctx, db, cfg)
	} else {
		err = migrateSQLite(ctx, db, cfg)
	}
	if err != nil {
		return fmt.Errorf("jobs: migrate river schema (%s): %w", db.Dialect(), err)
	}
	return nil
}

func migratePostgres(ctx context.Context, db *store.DB, cfg *rivermigrate.Config) error {
	m, err := rivermigrate.New(riverdatabasesql.New(db.SQL()), cfg)
	if err != nil {
		return err
	}
	if done, err := upToDate(ctx, m.Validate); err != nil || done {
		return err
	}
	// River's migrator takes no lock and runs each version in its own
	// transaction (some cannot share one), so hold a session advisory lock on
	// a dedicated connection while it works through the pool.
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() { _ = conn.Close() }()
	const key = `hashtextextended('appstrate.river.migrate:' || coalesce(current_schema(), ''), 0)`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	_, unlockErr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`)
	if unlockErr != nil {
		// A failed unlock leaves the lock on the connection: drop the connection with it.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		err = errors.Join(err, fmt.Errorf("unlock: %w", unlockErr))
	}
	return err
}

func migrateSQLite(ctx context.Context, db *store.DB, cfg *rivermigrate.Config) error {
	m, err := rivermigrate.New(riversqlite.New(db.SQL()), cfg)
	if err != nil {
		return err
	}
	if done, err := upToDate(ctx, m.Validate); err != nil || done {
		return err
	}
	// SQLite DDL is transactional and InTx begins IMMEDIATE: the whole
	// migration holds the write lock, so a second process waits and then
	// finds nothing to apply.
	return db.InTx(ctx, func(tx *store.Tx) error {
		//lint:ignore SA1019 one transaction is what serialises SQLite migrators; River deprecates it for PostgreSQL DDL that cannot share a transaction
		_, err := m.MigrateTx(ctx, tx.SQL(), rivermigrate.DirectionUp, nil)
		return err
	})
}

// upToDate reports whether River's schema needs no migration.
func upToDate(ctx context.Context, validate func(context.Context, *rivermigrate.ValidateOpts) (*rivermigrate.ValidateResult, error)) (bool, error) {
	res, err := validate(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("check version: %w", err)
	}
	return res.OK, nil
}
