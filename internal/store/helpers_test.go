package store_test

import (
	"context"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// scratch creates the test tables parent and child in db.
func scratch(t *testing.T, db *store.DB) {
	t.Helper()
	ddl := map[store.Dialect][]string{
		store.SQLite: {
			`CREATE TABLE parent (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, at TIMESTAMP, note TEXT)`,
			`CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parent(id) ON DELETE CASCADE)`,
		},
		store.Postgres: {
			`CREATE TABLE parent (id text PRIMARY KEY, name text NOT NULL UNIQUE, at timestamptz, note text)`,
			`CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, parent_id text NOT NULL REFERENCES parent(id) ON DELETE CASCADE)`,
		},
	}
	for _, stmt := range ddl[db.Dialect()] {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func insertParent(ctx context.Context, q store.Querier, id, name string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO parent (id, name) VALUES (?, ?)`, id, name)
	return err
}

func countParents(t *testing.T, q store.Querier) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM parent`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func nowUTC() isotime.Time { return isotime.Now() }
