package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// A repository function takes a store.Querier, so it runs the same inside
// and outside a transaction, on SQLite and on PostgreSQL.
func metaValue(ctx context.Context, q store.Querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM app_meta WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("meta %q: %w", key, store.MapNotFound(err))
	}
	return v, nil
}

func Example() {
	dir, _ := os.MkdirTemp("", "appstrate-example")
	defer func() { _ = os.RemoveAll(dir) }()
	ctx := context.Background()

	db, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "appstrate.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = db.Close() }()

	err = db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO app_meta (key, value, updated_at) VALUES (?, ?, ?)`, "greeting", "hello", isotime.Now())
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := metaValue(ctx, db, "greeting")
	fmt.Println(db.Dialect(), v, err)
	_, err = metaValue(ctx, db, "missing")
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// sqlite hello <nil>
	// true
}
