package profiles_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const (
	mail = "@acme/mail" // OAuth 2 provider
	crm  = "@acme/crm"  // API key provider
)

// world is two organizations: acme (owner ada, member bob, viewer vic; applications app and app2) and rival
// (owner eve). Acme has an OAuth 2 provider @acme/mail and an API key provider @acme/crm, both enabled in
// both applications (mail with its client credentials), and an agent @acme/writer declaring both (mail
// with scopes mail.read, mail.send), installed in both applications. eu is an end-user of app.
type world struct {
	e                    *apptest.Env
	ada, bob, vic, eve   string
	acme, app, app2      string
	rival, rivalApp      string
	eu                   string
	adaKey               string // API key of ada in app
	creds                map[string]string
	asAda, asBob, asVic  http.Header
	asEve, asEU, asAdaK2 http.Header
}

const writerManifest = `{"name":"@acme/writer","version":"1.0.0","type":"agent",
	"dependencies":{"providers":{"@acme/mail":"^1.0.0","@acme/crm":"*"}},
	"providersConfiguration":{"@acme/mail":{"scopes":["mail.read","mail.send"]}}}`

func newWorld(t *testing.T, e *apptest.Env) *world {
	t.Helper()
	t.Cleanup(e.App.APIKeys.Wait)
	w := &world{e: e, creds: map[string]string{}}
	w.ada, w.bob, w.vic, w.eve = e.SeedUser("ada@acme.test"), e.SeedUser("bob@acme.test"), e.SeedUser("vic@acme.test"), e.SeedUser("eve@rival.test")
	w.acme, w.app = e.SeedOrg(w.ada, "acme")
	w.app2 = e.SeedApp(w.acme, "Second")
	e.SeedMember(w.acme, w.bob, "member")
	e.SeedMember(w.acme, w.vic, "viewer")
	w.rival, w.rivalApp = e.SeedOrg(w.eve, "rival")
	w.asAda, w.asBob, w.asVic = apptest.As(w.ada, w.acme, w.app), apptest.As(w.bob, w.acme, w.app), apptest.As(w.vic, w.acme, w.app)
	w.asEve, w.asAdaK2 = apptest.As(w.eve, w.rival, w.rivalApp), apptest.As(w.ada, w.acme, w.app2)

	w.pkg(mail, "provider", `{"name":"@acme/mail","version":"1.0.0","type":"provider","definition":{"authMode":"oauth2",
		"oauth2":{"authorizationUrl":"https://mail.test/auth","tokenUrl":"https://mail.test/token"}}}`)
	w.pkg(crm, "provider", `{"name":"@acme/crm","version":"1.0.0","type":"provider","definition":{"authMode":"api_key",
		"credentials":{"schema":{"type":"object","properties":{"api_key":{"type":"string"}}}}}}`)
	w.pkg("@acme/writer", "agent", writerManifest)
	w.pkg("@acme/plain", "agent", `{"name":"@acme/plain","version":"1.0.0","type":"agent"}`)
	for _, app := range []string{w.app, w.app2} {
		w.install(app, "@acme/writer")
		w.install(app, "@acme/plain")
		w.enable(app, mail, map[string]string{"clientId": "id", "clientSecret": "secret"})
		w.enable(app, crm, map[string]string{})
	}

	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "k"}, Headers: w.asAda})
	var k struct{ Key string }
	if res.JSON(t, &k); res.Status != 201 {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	w.adaKey = k.Key
	res = e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"externalId": "carol"}, Headers: w.key()})
	var eu struct{ ID string }
	if res.JSON(t, &eu); res.Status != 201 {
		t.Fatalf("create end-user: %d %s", res.Status, res.Body)
	}
	w.eu = eu.ID
	w.asEU = w.key("Appstrate-User", w.eu)
	return w
}

// key returns headers authenticating with ada's API key (plus extra header pairs).
func (w *world) key(extra ...string) http.Header {
	return apptest.Headers(append([]string{"Authorization", "Bearer " + w.adaKey}, extra...)...)
}

func (w *world) exec(query string, args ...any) {
	w.e.T.Helper()
	if _, err := w.e.DB.ExecContext(context.Background(), query, args...); err != nil {
		w.e.T.Fatalf("%s: %v", query, err)
	}
}

func (w *world) scalar(query string, args ...any) string {
	w.e.T.Helper()
	var v *string
	if err := w.e.DB.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		w.e.T.Fatalf("%s: %v", query, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

func (w *world) pkg(id, typ, manifest string) {
	now := isotime.Now()
	w.exec(`INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, ?, 'local', ?, 'Do it.', ?, ?)`, id, w.acme, typ, manifest, now, now)
}

func (w *world) install(app, id string) {
	now := isotime.Now()
	w.exec(`INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?)`, app, id, true, now, now)
}

// enable stores the application's (encrypted) admin credentials of provider, enabled.
func (w *world) enable(app, provider string, creds map[string]string) {
	w.e.T.Helper()
	blob, err := w.e.App.Resolver.Keyring.EncryptJSON(creds)
	if err != nil {
		w.e.T.Fatal(err)
	}
	id, now := ids.UUID(), isotime.Now()
	w.exec(`INSERT INTO application_provider_credentials (id, application_id, provider_id, credentials_encrypted, enabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, app, provider, blob, true, now, now)
	w.creds[app+provider] = id
}

// connect stores a connection of profile for provider made with app's credentials; returns its id.
func (w *world) connect(profile, provider, app string, needsReconnection bool, scopes ...string) string {
	w.e.T.Helper()
	if scopes == nil {
		scopes = []string{}
	}
	raw, _ := json.Marshal(scopes)
	blob, err := w.e.App.Resolver.Keyring.EncryptJSON(map[string]string{"access_token": "secret-token"})
	if err != nil {
		w.e.T.Fatal(err)
	}
	id, now := ids.UUID(), isotime.Now()
	w.exec(`INSERT INTO user_provider_connections (id, profile_id, provider_id, org_id, provider_credential_id, credentials_encrypted,
		scopes_granted, needs_reconnection, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, profile, provider, w.acme, w.creds[app+provider], blob, string(raw), needsReconnection, now, now)
	return id
}

// defaultProfile returns the Default profile of the caller of h (listing creates a user's).
func (w *world) defaultProfile(h http.Header) string {
	w.e.T.Helper()
	for _, p := range w.profiles(h) {
		if p.IsDefault {
			return p.ID
		}
	}
	w.e.T.Fatal("no default profile")
	return ""
}

type profile struct {
	ID              string  `json:"id"`
	UserID          *string `json:"userId"`
	EndUserID       *string `json:"endUserId"`
	ApplicationID   *string `json:"applicationId"`
	Name            string  `json:"name"`
	IsDefault       bool    `json:"isDefault"`
	ConnectionCount int     `json:"connectionCount"`
	BindingCount    int     `json:"bindingCount"`
	AgentCount      int     `json:"agentCount"`
	CreatedAt       string  `json:"createdAt"`
}

type list[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"hasMore"`
}

func (w *world) profiles(h http.Header) []profile {
	w.e.T.Helper()
	res := w.e.Do(apptest.Request{Method: "GET", Path: "/api/connection-profiles", Headers: h})
	var l list[profile]
	if res.JSON(w.e.T, &l); res.Status != 200 || l.Object != "list" {
		w.e.T.Fatalf("list profiles: %d %s", res.Status, res.Body)
	}
	return l.Data
}

// create makes a profile through the API (path = /api/connection-profiles or /api/app-profiles).
func (w *world) create(path, name string, h http.Header) string {
	w.e.T.Helper()
	res := w.e.Do(apptest.Request{Method: "POST", Path: path, Body: map[string]any{"name": name}, Headers: h})
	var out struct{ Profile profile }
	if res.JSON(w.e.T, &out); res.Status != 201 || out.Profile.ID == "" || out.Profile.Name != name {
		w.e.T.Fatalf("create %s: %d %s", name, res.Status, res.Body)
	}
	return out.Profile.ID
}

// do sends a request and checks its status (and problem code when want is a problem).
func (w *world) do(method, path string, body any, h http.Header, status int, code string) *apptest.Response {
	w.e.T.Helper()
	res := w.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: h})
	if res.Status != status {
		w.e.T.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, status, res.Body)
	}
	if code != "" {
		if p := res.Problem(w.e.T); p.Code != code {
			w.e.T.Fatalf("%s %s: code %q, want %q", method, path, p.Code, code)
		}
	}
	return res
}
