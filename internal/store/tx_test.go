package store_test

import (
	"errors"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestInTx(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		scratch(t, db)
		ctx := t.Context()

		t.Run("commits when fn returns nil", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if tx.Dialect() != db.Dialect() {
					t.Errorf("tx dialect %s, db %s", tx.Dialect(), db.Dialect())
				}
				return insertParent(ctx, tx, "p1", "one")
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := countParents(t, db); n != 1 {
				t.Errorf("%d rows after commit, want 1", n)
			}
		})

		t.Run("rolls back and returns fn's error unchanged", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insertParent(ctx, tx, "p2", "two"); err != nil {
					return err
				}
				if n := countParents(t, tx); n != 2 {
					t.Errorf("tx sees %d rows, want 2", n)
				}
				return boom
			})
			if err != boom {
				t.Fatalf("InTx returned %v, want boom itself", err)
			}
			if n := countParents(t, db); n != 1 {
				t.Errorf("%d rows after rollback, want 1", n)
			}
		})

		t.Run("rolls back a panic and returns it as an error", func(t *testing.T) {
			cause := errors.New("cause")
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insertParent(ctx, tx, "p3", "three"); err != nil {
					return err
				}
				panic(cause)
			})
			var pe *store.PanicError
			if !errors.As(err, &pe) || pe.Value != cause || len(pe.Stack) == 0 {
				t.Fatalf("InTx returned %#v, want a *PanicError carrying the value and stack", err)
			}
			if !errors.Is(err, cause) {
				t.Error("PanicError does not unwrap to the panicked error")
			}
			if n := countParents(t, db); n != 1 {
				t.Errorf("%d rows after panic, want 1", n)
			}
		})

		t.Run("a constraint error inside rolls back", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insertParent(ctx, tx, "p4", "four"); err != nil {
					return err
				}
				return insertParent(ctx, tx, "p5", "one")
			})
			if !store.IsUniqueViolation(err) {
				t.Fatalf("InTx returned %v, want a unique violation", err)
			}
			if n := countParents(t, db); n != 1 {
				t.Errorf("%d rows, want 1", n)
			}
		})

		t.Run("the pool is usable afterwards", func(t *testing.T) {
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// Concurrent writers on SQLite queue on the write lock rather than failing
// with SQLITE_BUSY on a read→write upgrade.
func TestInTxConcurrentReadThenWrite(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		if _, err := db.ExecContext(t.Context(), `CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), `INSERT INTO counter (id, n) VALUES (1, 0)`); err != nil {
			t.Fatal(err)
		}
		const workers, rounds = 8, 10
		errs := make(chan error, workers)
		for range workers {
			go func() {
				var err error
				for range rounds {
					if err = increment(t, db); err != nil {
						break
					}
				}
				errs <- err
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		var n int
		if err := db.QueryRowContext(t.Context(), `SELECT n FROM counter WHERE id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != workers*rounds {
			t.Errorf("counter = %d, want %d", n, workers*rounds)
		}
	})
}

func increment(t *testing.T, db *store.DB) error {
	ctx := t.Context()
	return db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		q := `SELECT n FROM counter WHERE id = 1`
		if tx.Dialect() == store.Postgres {
			q += ` FOR UPDATE`
		}
		if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE counter SET n = ? WHERE id = 1`, n+1)
		return err
	})
}
