package store_test

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestConstraintViolations(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		scratch(t, db)
		ctx := t.Context()
		if err := insertParent(ctx, db, "p1", "one"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name       string
			query      string
			args       []any
			unique, fk bool
		}{
			{"duplicate primary key", `INSERT INTO parent (id, name) VALUES (?, ?)`, []any{"p1", "other"}, true, false},
			{"duplicate unique column", `INSERT INTO parent (id, name) VALUES (?, ?)`, []any{"p2", "one"}, true, false},
			{"missing parent", `INSERT INTO child (parent_id) VALUES (?)`, []any{"nope"}, false, true},
			{"not null is neither", `INSERT INTO parent (id, name) VALUES (?, NULL)`, []any{"p3"}, false, false},
			{"syntax error is neither", `INSERT INTO nowhere VALUES (?)`, []any{1}, false, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.ExecContext(ctx, tt.query, tt.args...)
				if err == nil {
					t.Fatal("no error")
				}
				wrapped := fmt.Errorf("repo: %w", err)
				if got := store.IsUniqueViolation(wrapped); got != tt.unique {
					t.Errorf("IsUniqueViolation(%v) = %v", err, got)
				}
				if got := store.IsForeignKeyViolation(wrapped); got != tt.fk {
					t.Errorf("IsForeignKeyViolation(%v) = %v", err, got)
				}
			})
		}
	})
}

func TestForeignKeysCascade(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		scratch(t, db)
		ctx := t.Context()
		if err := insertParent(ctx, db, "p1", "one"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO child (parent_id) VALUES (?)`, "p1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM parent WHERE id = ?`, "p1"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM child`).Scan(&n); err != nil || n != 0 {
			t.Errorf("children after cascade = %d, %v; want 0", n, err)
		}
	})
}

func TestMapNotFound(t *testing.T) {
	if store.MapNotFound(nil) != nil {
		t.Error("MapNotFound(nil) != nil")
	}
	other := errors.New("other")
	if store.MapNotFound(other) != other {
		t.Error("MapNotFound changed an unrelated error")
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		var v string
		err := db.QueryRowContext(t.Context(), `SELECT value FROM app_meta WHERE key = ?`, "missing").Scan(&v)
		err = store.MapNotFound(err)
		if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("MapNotFound(no rows) = %v; want ErrNotFound and sql.ErrNoRows", err)
		}
	})
}
