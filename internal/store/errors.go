package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ErrNotFound is returned (wrapped) when a row that must exist does not.
var ErrNotFound = errors.New("store: not found")

// ErrDatabaseTooNew means the database holds migrations this binary does not
// know: it was migrated by a newer release.
var ErrDatabaseTooNew = errors.New("store: database is newer than this binary")

// MapNotFound turns sql.ErrNoRows into an error matching both ErrNotFound and
// sql.ErrNoRows; any other error (or nil) is returned unchanged:
//
//	err := q.QueryRowContext(ctx, `SELECT name FROM apps WHERE id = ?`, id).Scan(&name)
//	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) { ... }
func MapNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// SQLite extended result codes and PostgreSQL SQLSTATEs for constraint errors.
const (
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
	sqliteConstraintForeignKey = 787
	pgUniqueViolation          = "23505"
	pgForeignKeyViolation      = "23503"
)

// IsUniqueViolation reports whether err comes from a UNIQUE or PRIMARY KEY
// constraint, on either dialect.
func IsUniqueViolation(err error) bool {
	return sqliteCode(err, sqliteConstraintUnique, sqliteConstraintPrimaryKey) ||
		pgCode(err, pgUniqueViolation)
}

// IsForeignKeyViolation reports whether err comes from a FOREIGN KEY
// constraint, on either dialect.
func IsForeignKeyViolation(err error) bool {
	return sqliteCode(err, sqliteConstraintForeignKey) || pgCode(err, pgForeignKeyViolation)
}

func sqliteCode(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

func pgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// PanicError is returned by InTx when the function panicked; the transaction
// has been rolled back.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("store: panic in transaction: %v", e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
