package connections_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/store"
)

// world is one organization with its owner and default application, recording every response body.
type world struct {
	t      *testing.T
	e      *apptest.Env
	owner  string
	org    string
	app    string
	slug   string
	bodies [][]byte
}

func newWorld(t *testing.T, e *apptest.Env, slug string) *world {
	t.Helper()
	// The flows talk to servers on 127.0.0.1: loopback is opted into explicitly, never by default.
	e.App.Connections.Net = netguard.Policy{AllowLoopback: true}
	owner := e.SeedUser(slug + "-owner@example.test")
	org, app := e.SeedOrg(owner, slug)
	return &world{t: t, e: e, owner: owner, org: org, app: app, slug: slug}
}

func (w *world) as(user string) http.Header { return apptest.As(user, w.org, w.app) }

func (w *world) do(method, path string, body any, h http.Header) *apptest.Response {
	w.t.Helper()
	r := w.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: h})
	w.bodies = append(w.bodies, r.Body)
	return r
}

func (w *world) want(r *apptest.Response, status int) *apptest.Response {
	w.t.Helper()
	if r.Status != status {
		w.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// apiKey creates an API key of user (with role) in the world's application.
func (w *world) apiKey(user string, role auth.Role, app string) string {
	w.t.Helper()
	k, err := w.e.App.APIKeys.Create(context.Background(), auth.NewAPIKey{OrgID: w.org, ApplicationID: app, CreatedBy: user,
		CreatorRole: role, Name: "test"}, audit.Event{OrgID: w.org, ApplicationID: app, ActorType: audit.ActorUser, ActorID: user})
	if err != nil {
		w.t.Fatal(err)
	}
	return k.Key
}

func bearer(key string, kv ...string) http.Header {
	h := apptest.Headers(kv...)
	h.Set("Authorization", "Bearer "+key)
	return h
}

// browse opens an authorization URL like a browser whose user approves at once, and returns where the
// provider redirects (the platform's callback URL).
func browse(t *testing.T, authURL string) *url.URL {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path != "/api/connections/callback" {
		t.Fatalf("redirected to %s", loc)
	}
	return loc
}

// rawDatabase returns everything the database holds about providers and connections as bytes: the SQLite
// file and its WAL, or on PostgreSQL the text of every row of the tables that could hold a secret.
func rawDatabase(t *testing.T, db *store.DB) []byte {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	if db.Dialect() == store.SQLite {
		var seq int
		var name, file string
		if err := db.QueryRowContext(ctx, `SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'`).Scan(&seq, &name, &file); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{file, file + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			out.Write(b)
		}
		if out.Len() == 0 {
			t.Fatal("empty database file")
		}
		return out.Bytes()
	}
	for _, table := range []string{"user_provider_connections", "application_provider_credentials", "oauth_states",
		"audit_events", "credential_proxy_usage", "packages", "package_versions"} {
		rows, err := db.QueryContext(ctx, `SELECT t::text FROM `+table+` t`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out.WriteString(s)
			out.WriteByte('\n')
		}
		rows.Close()
	}
	return out.Bytes()
}

// noSecret fails when any secret appears in where.
func noSecret(t *testing.T, what string, where []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && bytes.Contains(where, []byte(s)) {
			i := bytes.Index(where, []byte(s))
			lo, hi := max(0, i-80), min(len(where), i+len(s)+80)
			t.Fatalf("%s holds the secret %q in plain text: …%q…", what, s, where[lo:hi])
		}
	}
}

func columnValue(t *testing.T, db *store.DB, query string, args ...any) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func contains(body []byte, s string) bool { return strings.Contains(string(body), s) }
