package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change, from migrations/<dialect>/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations of d, in version order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read %s migrations: %w", d, err)
	}
	var out []Migration
	for _, e := range entries {
		m, err := readMigration(dir, e.Name())
		if err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].Version == m.Version {
			return nil, fmt.Errorf("store: %s migration version %04d is used twice", d, m.Version)
		}
		out = append(out, m)
	}
	return out, nil // fs.ReadDir sorts by name, hence by version
}

func readMigration(dir, file string) (Migration, error) {
	parts := migrationName.FindStringSubmatch(file)
	if parts == nil {
		return Migration{}, fmt.Errorf("store: migration file %s/%s is not named NNNN_name.sql", dir, file)
	}
	v, _ := strconv.Atoi(parts[1]) // four digits: cannot fail
	body, err := fs.ReadFile(migrationFiles, path.Join(dir, file))
	if err != nil {
		return Migration{}, fmt.Errorf("store: read migration %s/%s: %w", dir, file, err)
	}
	return Migration{Version: v, Name: parts[2], SQL: string(body)}, nil
}

// Migrate applies the pending migrations in order, each in its own
// transaction recorded in schema_migrations. Open calls it; it is safe to run
// concurrently from several processes. It fails with ErrDatabaseTooNew when
// the database has a version this binary does not know.
func (db *DB) Migrate(ctx context.Context) error {
	all, err := Migrations(db.dialect)
	if err != nil {
		return err
	}
	if err := db.createMigrationsTable(ctx); err != nil {
		return err
	}
	applied, err := db.appliedVersions(ctx)
	if err != nil {
		return err
	}
	if err := checkKnown(applied, all); err != nil {
		return err
	}
	for _, m := range all {
		if slices.Contains(applied, m.Version) {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return fmt.Errorf("store: apply migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

func (db *DB) createMigrationsTable(ctx context.Context) error {
	err := db.InTx(ctx, func(tx *Tx) error {
		if err := db.drv.lockMigrations(ctx, tx.tx); err != nil {
			return err
		}
		_, err := tx.tx.ExecContext(ctx, db.drv.migrationsTable())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	return nil
}

func (db *DB) appliedVersions(ctx context.Context) ([]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("store: read schema_migrations: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read schema_migrations: %w", err)
	}
	return out, nil
}

func checkKnown(applied []int, all []Migration) error {
	for _, v := range applied {
		known := slices.ContainsFunc(all, func(m Migration) bool { return m.Version == v })
		if !known {
			return fmt.Errorf("%w: it has migration %04d, the latest known is %04d", ErrDatabaseTooNew, v, latest(all))
		}
	}
	return nil
}

func latest(all []Migration) int {
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

// apply runs m unless a concurrent migrator applied it since we looked.
func (db *DB) apply(ctx context.Context, m Migration) error {
	done := false
	err := db.InTx(ctx, func(tx *Tx) error {
		if err := db.drv.lockMigrations(ctx, tx.tx); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n)
		if err != nil || n > 0 {
			return err
		}
		if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil { // raw: no placeholder rebinding in DDL
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, isotime.Now())
		done = err == nil
		return err
	})
	if err == nil && done {
		db.log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return err
}
