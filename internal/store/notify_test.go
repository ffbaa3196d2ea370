package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestNotify(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if db.Dialect() != store.SQLite {
			// PostgreSQL: pg_notify must accept the call inside a transaction (delivery is LISTEN's business).
			if err := db.InTx(ctx, func(tx *store.Tx) error { return store.Notify(ctx, tx, "test_channel", `{"a":1}`) }); err != nil {
				t.Fatal(err)
			}
			return
		}
		var mu sync.Mutex
		var got []string
		remove := store.OnSQLiteNotify(func(channel, payload string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, channel+" "+payload)
		})
		if err := store.Notify(ctx, db, "test_channel", `{"a":1}`); err != nil {
			t.Fatal(err)
		}
		remove()
		if err := store.Notify(ctx, db, "test_channel", `{"a":2}`); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0] != `test_channel {"a":1}` {
			t.Fatalf("notifications = %q", got)
		}
	})
}
