package store_test

import (
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestIsotimeRoundTrip(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		scratch(t, db)
		ctx := t.Context()
		tests := []struct {
			name string
			in   time.Time
		}{
			{"now", time.Now()},
			{"nanoseconds truncated", time.Date(2026, 6, 3, 12, 0, 0, 123456789, time.UTC)},
			{"whole second", time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)},
			{"offset converted", time.Date(2026, 6, 3, 14, 0, 0, 5e6, time.FixedZone("CEST", 2*3600))},
			{"far past", time.Date(1970, 1, 1, 0, 0, 0, 1e6, time.UTC)},
			{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := isotime.From(tt.in)
				id := tt.name
				_, err := db.ExecContext(ctx, `INSERT INTO parent (id, name, at) VALUES (?, ?, ?)`, id, id, want)
				if err != nil {
					t.Fatal(err)
				}
				var got isotime.Time
				if err := db.QueryRowContext(ctx, `SELECT at FROM parent WHERE id = ?`, id).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if !got.Equal(want) || got.Location() != time.UTC || got.String() != want.String() {
					t.Errorf("row %d: got %v, want %v", i, got, want)
				}
				var n int
				err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM parent WHERE at = ?`, want).Scan(&n)
				if err != nil || n != 1 {
					t.Errorf("equality lookup found %d rows (%v), want 1", n, err)
				}
			})
		}
	})
}

func TestIsotimeNullAndOrdering(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		scratch(t, db)
		ctx := t.Context()
		base := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
		rows := []struct {
			id string
			at isotime.Time
		}{
			{"null", isotime.Time{}},
			{"b", isotime.From(base.Add(100 * time.Millisecond))},
			{"a", isotime.From(base)},
			{"d", isotime.From(base.Add(time.Second))},
			{"c", isotime.From(base.Add(120 * time.Millisecond))},
		}
		for _, r := range rows {
			if _, err := db.ExecContext(ctx, `INSERT INTO parent (id, name, at) VALUES (?, ?, ?)`, r.id, r.id, r.at); err != nil {
				t.Fatal(err)
			}
		}
		var null isotime.Time
		if err := db.QueryRowContext(ctx, `SELECT at FROM parent WHERE id = 'null' AND at IS NULL`).Scan(&null); err != nil || !null.IsZero() {
			t.Errorf("zero Time stored as %v (%v), want NULL", null, err)
		}
		got := idsOrderedByTime(t, db, `SELECT id FROM parent WHERE at > ? ORDER BY at`, isotime.From(base))
		if want := "b c d"; got != want {
			t.Errorf("ordered ids = %q, want %q", got, want)
		}
		var latest isotime.Time
		if err := db.QueryRowContext(ctx, `SELECT MAX(at) FROM parent`).Scan(&latest); err != nil || !latest.Equal(rows[3].at) {
			t.Errorf("MAX(at) = %v (%v), want %v", latest, err, rows[3].at)
		}
	})
}

func idsOrderedByTime(t *testing.T, db *store.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := ""
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if out != "" {
			out += " "
		}
		out += id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
