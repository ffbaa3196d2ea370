package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
)

// InTx runs fn in a transaction: committed when fn returns nil, rolled back
// when it returns an error (returned unchanged) or panics (returned as a
// *PanicError; the panic does not propagate). On SQLite the transaction takes
// the write lock when it begins (BEGIN IMMEDIATE), so concurrent writers
// queue on busy_timeout instead of failing on lock upgrade. Calls do not
// nest: inside fn, use tx, not db.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	if err := db.runTx(&Tx{tx: stx, dialect: db.dialect}, fn); err != nil {
		if rbErr := stx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rbErr))
		}
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// runTx calls fn, converting a panic into a *PanicError.
func (db *DB) runTx(tx *Tx, fn func(tx *Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := &PanicError{Value: r, Stack: debug.Stack()}
			db.log.Error("panic in transaction, rolled back", "panic", r, "stack", string(pe.Stack))
			err = pe
		}
	}()
	return fn(tx)
}
