package store_test

import (
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no placeholder", `SELECT 1`, `SELECT 1`},
		{"numbered in order", `SELECT * FROM t WHERE a = ? AND b = ? OR c IN (?, ?)`, `SELECT * FROM t WHERE a = $1 AND b = $2 OR c IN ($3, $4)`},
		{"ten and more", `VALUES (?,?,?,?,?,?,?,?,?,?,?)`, `VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`},
		{"quoted question mark kept", `SELECT '?' , ?`, `SELECT '?' , $1`},
		{"escaped quote in string", `SELECT 'it''s ?', ? WHERE x = 'a?b'`, `SELECT 'it''s ?', $1 WHERE x = 'a?b'`},
		{"empty string", `SELECT '', ?`, `SELECT '', $1`},
		{"quoted identifier kept", `SELECT "what?" FROM t WHERE a = ?`, `SELECT "what?" FROM t WHERE a = $1`},
		{"line comment kept", "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"block comment kept", `SELECT ? /* really? */, ?`, `SELECT $1 /* really? */, $2`},
		{"unterminated string runs to end", `SELECT ?, 'oops ?`, `SELECT $1, 'oops ?`},
		{"unterminated comment runs to end", `SELECT ? /* ?`, `SELECT $1 /* ?`},
		{"single dash is an operator", `SELECT ? - ?`, `SELECT $1 - $2`},
		{"slash is an operator", `SELECT ? / ?`, `SELECT $1 / $2`},
		{"multibyte text", `SELECT 'é?' || ? || 'ü'`, `SELECT 'é?' || $1 || 'ü'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Postgres.Rebind(tt.in); got != tt.want {
				t.Errorf("Postgres.Rebind(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := store.SQLite.Rebind(tt.in); got != tt.in {
				t.Errorf("SQLite.Rebind changed %q into %q", tt.in, got)
			}
		})
	}
}

// Quoted question marks reach the database untouched on both dialects.
func TestRebindAgainstDatabase(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		var a, b, c string
		err := db.QueryRowContext(t.Context(), `SELECT 'it''s ?', CAST(? AS TEXT), CAST(? AS TEXT) /* ? */`, "x", "y").Scan(&a, &b, &c)
		if err != nil {
			t.Fatal(err)
		}
		if a != "it's ?" || b != "x" || c != "y" {
			t.Errorf("got %q %q %q", a, b, c)
		}
	})
}

func BenchmarkRebind(b *testing.B) {
	q := `INSERT INTO runs (id, org_id, status, input, created_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING`
	for b.Loop() {
		store.Postgres.Rebind(q)
	}
}
