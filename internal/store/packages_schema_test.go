package store_test

import (
	"context"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// TestPackageIDConstraint checks the package id CHECK constraint agrees on both dialects.
func TestPackageIDConstraint(t *testing.T) {
	cases := map[string]bool{
		"@acme/foo": true, "@a/b": true, "@acme-1/foo-bar": true, "@acme/foo-": true,
		"acme/foo": false, "@Acme/foo": false, "@acme/foo/bar": false, "@acme": false, "@-acme/foo": false,
		"@acme/fo_o": false, "@acme@x/foo": false, "@acme/": false,
	}
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		for id, ok := range cases {
			now := isotime.Now()
			_, err := db.ExecContext(context.Background(), `INSERT INTO packages (id, type, created_at, updated_at) VALUES (?, 'agent', ?, ?)`, id, now, now)
			if (err == nil) != ok {
				t.Errorf("insert %q: err = %v, want accepted = %v", id, err, ok)
			}
		}
	})
}
