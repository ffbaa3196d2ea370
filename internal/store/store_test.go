package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestAccessors(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		if err := db.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		if db.SQL() == nil {
			t.Error("SQL() is nil")
		}
		if isPG := db.Dialect() == store.Postgres; (db.Pool() != nil) != isPG {
			t.Errorf("Pool() = %v on %s", db.Pool(), db.Dialect())
		}
		if p := db.Pool(); p != nil {
			if err := p.Ping(t.Context()); err != nil {
				t.Errorf("pool ping: %v", err)
			}
		}
	})
}

func TestSQLitePragmas(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := t.Context()
	// Several connections: every one of them must carry the pragmas.
	conns := make([]interface{ Close() error }, 0, 3)
	for range 3 {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "synchronous": "1", "cache_size": "-512",
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

func TestSQLiteCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir?#", "nested")
	db, err := store.Open(t.Context(), store.Options{SQLitePath: filepath.Join(dir, "app.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("directory mode %o, want 700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.db")); err != nil {
		t.Errorf("database file not at the requested path: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	const secret = "s3cr3t-pw"
	tests := []struct {
		name    string
		opts    store.Options
		mention string
	}{
		{"nothing configured", store.Options{}, "SQLitePath"},
		{"not a url", store.Options{DatabaseURL: "postgres://u:" + secret + "@host:port/db"}, "malformed DATABASE_URL"},
		{"wrong scheme", store.Options{DatabaseURL: "mysql://u:" + secret + "@localhost/db"}, "mysql"},
		{"bad parameter", store.Options{DatabaseURL: "postgres://u:" + secret + "@localhost/db?sslmode=sometimes"}, "invalid DATABASE_URL"},
		{"bad parameter, password in query", store.Options{DatabaseURL: "postgresql://u@localhost/db?password=" + secret + "&sslmode=sometimes"}, "invalid DATABASE_URL"},
		{"unreachable server", store.Options{DatabaseURL: "postgres://u:" + secret + "@127.0.0.1:1/db?sslmode=disable&password=" + secret}, "connect to postgres u@127.0.0.1:1/db"},
		{"sqlite path is a file", store.Options{SQLitePath: filepath.Join(fileIn(t), "x.db")}, "sqlite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(context.Background(), tt.opts)
			if err == nil {
				_ = db.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func fileIn(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstanceID(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		db := open(t, opts)
		const callers = 8
		got := make([]string, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { got[i], errs[i] = db.InstanceID(t.Context()) })
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got[i] != got[0] {
				t.Fatalf("concurrent first calls disagree: %q vs %q", got[i], got[0])
			}
		}
		if !ids.ValidUUID(got[0]) {
			t.Errorf("instance id %q is not a UUID", got[0])
		}
		again, err := open(t, opts).InstanceID(t.Context())
		if err != nil || again != got[0] {
			t.Errorf("after re-open: %q, %v; want %q", again, err, got[0])
		}
	})
}
