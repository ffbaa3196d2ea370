package store_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestDialectsHaveTheSameMigrations(t *testing.T) {
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("sqlite has %d migrations, postgres %d", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Version != pg[i].Version || lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: sqlite %04d_%s, postgres %04d_%s",
				i, lite[i].Version, lite[i].Name, pg[i].Version, pg[i].Name)
		}
		if lite[i].Version != i+1 {
			t.Errorf("migration %04d_%s: versions must be 1, 2, 3... without gaps", lite[i].Version, lite[i].Name)
		}
	}
}

type applied struct {
	version int
	name    string
}

func appliedMigrations(t *testing.T, db *store.DB) []applied {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantAllApplied(t *testing.T, db *store.DB) {
	t.Helper()
	all, err := store.Migrations(db.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	got := appliedMigrations(t, db)
	if len(got) != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d: %v", len(got), len(all), got)
	}
	for i, m := range all {
		if got[i] != (applied{m.Version, m.Name}) {
			t.Errorf("row %d = %v, want %04d_%s", i, got[i], m.Version, m.Name)
		}
	}
}

func TestOpenAppliesAndRecordsMigrations(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		wantAllApplied(t, db)
		if _, err := db.ExecContext(t.Context(), `SELECT key, value, updated_at FROM app_meta`); err != nil {
			t.Errorf("app_meta missing: %v", err)
		}
	})
}

func TestReopenIsANoOp(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		first := open(t, opts)
		before := appliedAt(t, first)
		second := open(t, opts)
		wantAllApplied(t, second)
		if after := appliedAt(t, second); after != before {
			t.Errorf("applied_at changed on re-open: %q → %q", before, after)
		}
		if err := second.Migrate(t.Context()); err != nil {
			t.Errorf("Migrate on an up-to-date database: %v", err)
		}
	})
}

func appliedAt(t *testing.T, db *store.DB) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(t.Context(), `SELECT CAST(applied_at AS TEXT) FROM schema_migrations WHERE version = 1`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// Several servers starting at once on a fresh database: every Open succeeds
// and each migration runs exactly once (a second CREATE TABLE would fail).
func TestConcurrentOpenAppliesEachMigrationOnce(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		const servers = 4
		var wg sync.WaitGroup
		dbs := make([]*store.DB, servers)
		errs := make([]error, servers)
		for i := range servers {
			wg.Go(func() { dbs[i], errs[i] = store.Open(t.Context(), opts) })
		}
		wg.Wait()
		for i := range servers {
			if errs[i] != nil {
				t.Errorf("Open #%d: %v", i, errs[i])
				continue
			}
			t.Cleanup(func() { _ = dbs[i].Close() })
		}
		if t.Failed() {
			return
		}
		wantAllApplied(t, dbs[0])
	})
}

func TestOpenRefusesDatabaseNewerThanBinary(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		db := open(t, opts)
		_, err := db.ExecContext(t.Context(),
			`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, 9999, "future", nowUTC())
		if err != nil {
			t.Fatal(err)
		}
		again, err := store.Open(t.Context(), opts)
		if err == nil {
			_ = again.Close()
			t.Fatal("Open accepted a database with an unknown migration")
		}
		if !errors.Is(err, store.ErrDatabaseTooNew) {
			t.Errorf("error %q is not ErrDatabaseTooNew", err)
		}
		if err := db.Migrate(t.Context()); !errors.Is(err, store.ErrDatabaseTooNew) {
			t.Errorf("Migrate: %v, want ErrDatabaseTooNew", err)
		}
	})
}

func open(t *testing.T, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
