package secrets

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var appCreds = Column{Table: "application_provider_credentials", Key: []string{"id"}, Column: "credentials_encrypted"}

// seedProviderCredentials inserts n application_provider_credentials rows (one app, n providers) whose
// credentials are encrypted by kr, and returns their ids in insertion order.
func seedProviderCredentials(t *testing.T, db *store.DB, kr *Keyring, n int) []string {
	t.Helper()
	ctx := context.Background()
	now := isotime.Now()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO organizations (id, name, slug, created_at, updated_at) VALUES ('org1', 'Org', 'org', ?, ?)`, now, now)
	exec(`INSERT INTO applications (id, org_id, name, created_at, updated_at) VALUES ('app_1', 'org1', 'App', ?, ?)`, now, now)
	var ids []string
	for i := range n {
		pkg := fmt.Sprintf("@test/p%03d", i)
		exec(`INSERT INTO packages (id, type, source, created_at, updated_at) VALUES (?, 'provider', 'system', ?, ?)`, pkg, now, now)
		env, err := kr.EncryptJSON(map[string]string{"clientId": fmt.Sprintf("id-%d", i), "clientSecret": fmt.Sprintf("secret-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("cred-%03d", i)
		exec(`INSERT INTO application_provider_credentials (id, application_id, provider_id, credentials_encrypted, created_at, updated_at)
			VALUES (?, 'app_1', ?, ?, ?, ?)`, id, pkg, env, now, now)
		ids = append(ids, id)
	}
	return ids
}

func columnReport(t *testing.T, rep Report, c Column) ColumnReport {
	t.Helper()
	for _, cr := range rep.Columns {
		if cr.Table == c.Table && cr.Column.Column == c.Column {
			return cr
		}
	}
	t.Fatalf("no report for %s", c.Name())
	return ColumnReport{}
}

func TestRotate(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		k1 := mustKeyring(t, "k1", key(1), nil)
		ids := seedProviderCredentials(t, db, k1, 7)
		// One row under a key nobody holds any more, one value that is not an envelope, one NULL.
		lost := mustKeyring(t, "lost", key(3), nil)
		lostEnv, _ := lost.Encrypt([]byte(`{"x":"y"}`))
		if _, err := db.ExecContext(ctx, `UPDATE application_provider_credentials SET credentials_encrypted = ? WHERE id = ?`, lostEnv, ids[2]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE application_provider_credentials SET credentials_encrypted = 'not-an-envelope' WHERE id = ?`, ids[4]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE application_provider_credentials SET credentials_encrypted = NULL WHERE id = ?`, ids[5]); err != nil {
			t.Fatal(err)
		}
		k2 := mustKeyring(t, "k2", key(2), map[string][]byte{"k1": key(1)})

		// Dry run: counts only.
		dry, err := RotateWith(ctx, db, k2, nil, Options{DryRun: true, BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		cr := columnReport(t, dry, appCreds)
		if !cr.Present || cr.Total != 6 || cr.Rotated != 4 || cr.UnknownKey != 1 || cr.Invalid != 1 || !dry.DryRun {
			t.Fatalf("dry run report %+v", cr)
		}
		if !strings.HasPrefix(readCredential(t, db, ids[0]), "v1:k1:") {
			t.Fatal("dry run wrote")
		}

		rep, err := RotateWith(ctx, db, k2, nil, Options{BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		cr = columnReport(t, rep, appCreds)
		if cr.Total != 6 || cr.Rotated != 4 || cr.UnknownKey != 1 || cr.Invalid != 1 || cr.Changed != 0 ||
			strings.Join(cr.UnknownKIDs, ",") != "lost" || rep.Rotated() != 4 || rep.Problems() != 2 {
			t.Fatalf("report %+v", cr)
		}
		for i, id := range ids {
			v := readCredential(t, db, id)
			switch i {
			case 2:
				if v != lostEnv {
					t.Fatalf("unknown-kid row was modified: %s", v)
				}
			case 4:
				if v != "not-an-envelope" {
					t.Fatalf("invalid row was modified: %s", v)
				}
			case 5:
				if v != "" {
					t.Fatalf("NULL row was written: %s", v)
				}
			default:
				if !strings.HasPrefix(v, "v1:k2:") {
					t.Fatalf("row %s not rotated: %s", id, v)
				}
				var got map[string]string
				if err := k2.DecryptJSON(v, &got); err != nil || got["clientSecret"] != fmt.Sprintf("secret-%d", i) {
					t.Fatalf("row %s decrypts to %v, %v", id, got, err)
				}
				// The active key alone (k1 dropped) reads it.
				if _, err := mustKeyring(t, "k2", key(2), nil).Decrypt(v); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Absent tables (areas not installed yet) are skipped, not errors.
		absent, err := RotateWith(ctx, db, k2, nil, Options{Columns: []Column{{Table: "no_such_table", Key: []string{"id"}, Column: "secret"}}})
		if err != nil || len(absent.Columns) != 1 || absent.Columns[0].Present {
			t.Fatalf("absent table: %+v %v", absent, err)
		}

		// Idempotent.
		again, err := Rotate(ctx, db, k2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cr := columnReport(t, again, appCreds); cr.Rotated != 0 || cr.Current() != 4 || cr.UnknownKey != 1 {
			t.Fatalf("second run %+v", cr)
		}
	})
}

func readCredential(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var v *string
	if err := db.QueryRowContext(context.Background(), `SELECT credentials_encrypted FROM application_provider_credentials WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return ""
	}
	return *v
}

// TestRotateCompositeKeyAndCAS uses a table of its own with a two-column key, and a concurrent writer that
// changes a row between Rotate's read and its write: the writer's value must survive.
func TestRotateCompositeKeyAndCAS(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE rot_test (a TEXT NOT NULL, b TEXT NOT NULL, secret TEXT, PRIMARY KEY (a, b))`); err != nil {
			t.Fatal(err)
		}
		k1 := mustKeyring(t, "k1", key(1), nil)
		k2 := mustKeyring(t, "k2", key(2), map[string][]byte{"k1": key(1)})
		for _, a := range []string{"x", "y"} {
			for _, b := range []string{"1", "2", "3"} {
				env, _ := k1.Encrypt([]byte(a + b))
				if _, err := db.ExecContext(ctx, `INSERT INTO rot_test (a, b, secret) VALUES (?, ?, ?)`, a, b, env); err != nil {
					t.Fatal(err)
				}
			}
		}
		col := Column{Table: "rot_test", Key: []string{"a", "b"}, Column: "secret"}

		// Simulate the race deterministically: read a batch, let a writer replace one row, then write.
		rows, err := readBatch(ctx, db, col, "a, b", "v1:k2:", nil, 10)
		if err != nil || len(rows) != 6 {
			t.Fatalf("readBatch = %d rows, %v", len(rows), err)
		}
		writerValue, _ := k2.Encrypt([]byte("written concurrently"))
		if _, err := db.ExecContext(ctx, `UPDATE rot_test SET secret = ? WHERE a = 'x' AND b = '2'`, writerValue); err != nil {
			t.Fatal(err)
		}
		var fresh []string
		for _, r := range rows {
			plain, err := k2.Decrypt(r.value)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := k2.Encrypt(plain)
			fresh = append(fresh, env)
		}
		rotated, changed, err := writeBatch(ctx, db, col, rows, fresh)
		if err != nil || rotated != 5 || changed != 1 {
			t.Fatalf("writeBatch = %d rotated, %d changed, %v", rotated, changed, err)
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT secret FROM rot_test WHERE a = 'x' AND b = '2'`).Scan(&v); err != nil || v != writerValue {
			t.Fatalf("concurrent write overwritten: %v", err)
		}

		// Keyset pagination over a composite key with batch size 1 visits every row once.
		for _, a := range []string{"x", "y"} {
			env, _ := k1.Encrypt([]byte("again-" + a))
			if _, err := db.ExecContext(ctx, `UPDATE rot_test SET secret = ? WHERE a = ?`, env, a); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := RotateWith(ctx, db, k2, nil, Options{BatchSize: 1, Columns: []Column{col}})
		if err != nil {
			t.Fatal(err)
		}
		if cr := rep.Columns[0]; cr.Rotated != 6 || cr.Total != 6 || cr.Current() != 0 {
			t.Fatalf("report %+v", cr)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM rot_test WHERE secret LIKE 'v1:k2:%'`).Scan(&n); err != nil || n != 6 {
			t.Fatalf("%d rows under k2, %v", n, err)
		}
	})
}

func TestRotateRejectsBadDescriptor(t *testing.T) {
	db := storetest.SQLite(t)
	kr := mustKeyring(t, "k1", key(1), nil)
	_, err := RotateWith(context.Background(), db, kr, nil, Options{Columns: []Column{{Table: "x; DROP TABLE users", Key: []string{"id"}, Column: "c"}}})
	if err == nil {
		t.Fatal("accepted an invalid identifier")
	}
}

func TestColumnsRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Columns {
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		if seen[c.Name()] {
			t.Fatalf("duplicate %s", c.Name())
		}
		seen[c.Name()] = true
	}
	for _, want := range []string{"user_provider_connections.credentials_encrypted", "application_provider_credentials.credentials_encrypted",
		"model_provider_credentials.credentials_encrypted", "org_proxies.url_encrypted", "runs.sink_secret_encrypted",
		"application_smtp_configs.pass_encrypted", "application_social_providers.client_secret_encrypted", "webhooks.secret_encrypted"} {
		if !seen[want] {
			t.Fatalf("registry lacks %s", want)
		}
	}
}
