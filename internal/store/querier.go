package store

import (
	"context"
	"database/sql"
)

// Querier runs SQL with "?" placeholders. *DB and *Tx implement it, so
// repository functions taking a Querier work inside and outside a
// transaction. Results and errors come straight from database/sql.
type Querier interface {
	Dialect() Dialect
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// ExecContext runs a statement that returns no rows.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.dialect.Rebind(query), args...)
}

// QueryContext runs a query that returns rows; the caller closes them.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.dialect.Rebind(query), args...)
}

// QueryRowContext runs a query expected to return at most one row. Wrap the
// Scan error in MapNotFound to get ErrNotFound.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.dialect.Rebind(query), args...)
}

// Tx is a transaction opened by DB.InTx.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect returns the dialect of the database the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// SQL returns the underlying database/sql transaction, for libraries (the job
// queue) that must enqueue inside the same transaction. Do not commit or roll
// it back: InTx does.
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// ExecContext runs a statement that returns no rows.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, tx.dialect.Rebind(query), args...)
}

// QueryContext runs a query that returns rows; the caller closes them.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, tx.dialect.Rebind(query), args...)
}

// QueryRowContext runs a query expected to return at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, tx.dialect.Rebind(query), args...)
}
