package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/secrets"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestSecretsRotate(t *testing.T) {
	storetest.EachDialectOptions(t, func(t *testing.T, opts store.Options) {
		ctx := context.Background()
		dataDir := t.TempDir()
		env := map[string]string{"DATA_DIR": dataDir}
		if opts.DatabaseURL != "" {
			env["DATABASE_URL"] = opts.DatabaseURL
		} else {
			opts.SQLitePath = filepath.Join(dataDir, "appstrate.db")
		}
		db, err := store.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		k1 := bytes.Repeat([]byte{1}, 32)
		k2 := bytes.Repeat([]byte{2}, 32)
		old, _ := secrets.NewKeyring("k1", k1, nil)
		now := isotime.Now()
		for _, q := range []string{
			`INSERT INTO organizations (id, name, slug, created_at, updated_at) VALUES ('o', 'O', 'o', ?, ?)`,
			`INSERT INTO applications (id, org_id, name, created_at, updated_at) VALUES ('app_1', 'o', 'A', ?, ?)`,
			`INSERT INTO packages (id, type, source, created_at, updated_at) VALUES ('@t/a', 'provider', 'system', ?, ?)`,
			`INSERT INTO packages (id, type, source, created_at, updated_at) VALUES ('@t/b', 'provider', 'system', ?, ?)`,
		} {
			if _, err := db.ExecContext(ctx, q, now, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{"a", "b"} {
			envl, _ := old.EncryptJSON(map[string]string{"clientSecret": "s3cret-" + p})
			if _, err := db.ExecContext(ctx, `INSERT INTO application_provider_credentials (id, application_id, provider_id, credentials_encrypted, created_at, updated_at)
				VALUES (?, 'app_1', ?, ?, ?, ?)`, "c-"+p, "@t/"+p, envl, now, now); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		env["CONNECTION_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString(k2)
		env["CONNECTION_ENCRYPTION_KEY_ID"] = "k2"
		env["CONNECTION_ENCRYPTION_KEYS"] = `{"k1":"` + base64.StdEncoding.EncodeToString(k1) + `"}`
		withEnv(t, env)

		run := func(args ...string) (int, string, string) {
			var stdout, stderr bytes.Buffer
			code := Main(args, &stdout, &stderr)
			return code, stdout.String(), stderr.String()
		}
		code, out, errOut := run("secrets", "rotate", "--dry-run")
		if code != 0 || !strings.Contains(out, "dry run") || !strings.Contains(out, "2 value(s) to rotate") {
			t.Fatalf("dry run: code %d\n%s\n%s", code, out, errOut)
		}
		code, out, errOut = run("secrets", "rotate")
		if code != 0 || !strings.Contains(out, "application_provider_credentials.credentials_encrypted") ||
			!strings.Contains(out, "2 value(s) rotated, 0 problem(s)") || !strings.Contains(out, "(no such column yet)") {
			t.Fatalf("rotate: code %d\n%s\n%s", code, out, errOut)
		}
		if strings.Contains(out+errOut, "s3cret") {
			t.Fatal("plaintext printed")
		}
		code, out, _ = run("secrets", "rotate")
		if code != 0 || !strings.Contains(out, "0 value(s) rotated") {
			t.Fatalf("second run: code %d\n%s", code, out)
		}

		// A value under a key that is no longer configured: reported, exit 1, row untouched.
		db, err = store.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		lostKR, _ := secrets.NewKeyring("k0", bytes.Repeat([]byte{9}, 32), nil)
		lost, _ := lostKR.Encrypt([]byte(`{}`))
		if _, err := db.ExecContext(ctx, `UPDATE application_provider_credentials SET credentials_encrypted = ? WHERE id = 'c-a'`, lost); err != nil {
			t.Fatal(err)
		}
		code, out, errOut = run("secrets", "rotate")
		if code != ExitFailure || !strings.Contains(out, "[k0]") || !strings.Contains(errOut, "could not be rotated") {
			t.Fatalf("unknown kid: code %d\n%s\n%s", code, out, errOut)
		}
		var v string
		if err := db.QueryRowContext(ctx, `SELECT credentials_encrypted FROM application_provider_credentials WHERE id = 'c-a'`).Scan(&v); err != nil || v != lost {
			t.Fatalf("row changed: %v", err)
		}
		if err := db.QueryRowContext(ctx, `SELECT credentials_encrypted FROM application_provider_credentials WHERE id = 'c-b'`).Scan(&v); err != nil || !strings.HasPrefix(v, "v1:k2:") {
			t.Fatalf("row c-b = %s, %v", v, err)
		}
	})
}
