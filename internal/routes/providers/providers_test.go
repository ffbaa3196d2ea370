package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
)

type providerItem struct {
	ID, DisplayName, Source, AuthMode, TokenURL string
	PKCEEnabled                                 *bool
	Enabled, HasCredentials                     bool
	UsedByAgents                                int
	AdminCredentialSchema                       json.RawMessage
}

type providerList struct {
	Object      string
	Data        []providerItem
	HasMore     bool
	CallbackURL string
}

func find(l providerList, id string) *providerItem {
	for i := range l.Data {
		if l.Data[i].ID == id {
			return &l.Data[i]
		}
	}
	return nil
}

func oauth2Body(id, name string) map[string]any {
	return map[string]any{"id": id, "displayName": name, "authMode": "oauth2",
		"authorizationUrl": "https://idp.example.test/authorize", "tokenUrl": "https://idp.example.test/token",
		"clientId": "cid-123", "clientSecret": "very-secret-client-value", "authorizedUris": []string{"https://api.example.test/**"}}
}

func call(t *testing.T, e *apptest.Env, method, path string, body any, h http.Header, status int) *apptest.Response {
	t.Helper()
	r := e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: h})
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	return r
}

func TestProviders(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		e.App.SyncSystemPackages(context.Background())
		owner := e.SeedUser("owner@acme.test")
		org, app := e.SeedOrg(owner, "acme")
		member := e.SeedUser("member@acme.test")
		e.SeedMember(org, member, "member")
		other := e.SeedUser("owner@beta.test")
		orgB, appB := e.SeedOrg(other, "beta")
		as := apptest.As(owner, org, app)
		do := func(method, path string, body any, h http.Header, status int) *apptest.Response {
			t.Helper()
			return call(t, e, method, path, body, h, status)
		}
		list := func() providerList {
			t.Helper()
			var l providerList
			do("GET", "/api/providers", nil, as, 200).JSON(t, &l)
			return l
		}

		// System providers with their resolved definitions (Gmail disables PKCE), and the callback URL.
		l := list()
		if l.Object != "list" || l.CallbackURL != e.Config.AppURL+"/api/connections/callback" || len(l.Data) < 60 {
			t.Fatalf("list: %s %s %d", l.Object, l.CallbackURL, len(l.Data))
		}
		gmail := find(l, "@appstrate/gmail")
		if gmail == nil || gmail.Source != "built-in" || gmail.AuthMode != "oauth2" || gmail.PKCEEnabled == nil || *gmail.PKCEEnabled ||
			gmail.Enabled || gmail.HasCredentials || !bytes.Contains(gmail.AdminCredentialSchema, []byte(`"clientSecret"`)) {
			t.Fatalf("gmail: %+v", gmail)
		}

		// Create: flat body → manifest, installed and enabled, admin credentials encrypted.
		r := do("POST", "/api/providers", oauth2Body("@acme/idp", "IdP"), as, http.StatusCreated)
		if strings.TrimSpace(string(r.Body)) != `{"id":"@acme/idp"}` {
			t.Fatalf("create: %s", r.Body)
		}
		idp := find(list(), "@acme/idp")
		if idp == nil || idp.Source != "custom" || !idp.Enabled || !idp.HasCredentials || idp.TokenURL != "https://idp.example.test/token" {
			t.Fatalf("created: %+v", idp)
		}
		var env string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT credentials_encrypted FROM application_provider_credentials
			WHERE application_id = ? AND provider_id = ?`, app, "@acme/idp").Scan(&env); err != nil || !strings.HasPrefix(env, "v1:") {
			t.Fatalf("stored admin credentials %q (%v)", env, err)
		}
		if strings.Contains(env, "very-secret-client-value") {
			t.Fatal("client secret stored in clear")
		}

		refusals := []struct {
			name       string
			method     string
			path       string
			body       any
			h          http.Header
			status     int
			code       string
			errorField string
		}{
			{"missing tokenUrl", "POST", "/api/providers", map[string]any{"id": "@acme/x", "displayName": "X", "authMode": "oauth2",
				"authorizationUrl": "https://a.test/"}, as, 400, "validation_failed", "tokenUrl"},
			{"missing id", "POST", "/api/providers", map[string]any{"displayName": "X", "authMode": "api_key"}, as, 400, "validation_failed", "id"},
			{"unknown auth mode", "POST", "/api/providers", map[string]any{"id": "@acme/x", "displayName": "X", "authMode": "magic"}, as, 400, "validation_failed", ""},
			{"another scope", "POST", "/api/providers", oauth2Body("@beta/x", "X"), as, 403, "scope_mismatch", ""},
			{"system id", "POST", "/api/providers", oauth2Body("@appstrate/x", "X"), as, 403, "operation_not_allowed", ""},
			{"duplicate", "POST", "/api/providers", oauth2Body("@acme/idp", "X"), as, 400, "name_collision", ""},
			{"member cannot create", "POST", "/api/providers", oauth2Body("@acme/y", "Y"), apptest.As(member, org, app), 403, "forbidden", ""},
			{"update a system provider", "PUT", "/api/providers/@appstrate/gmail", oauth2Body("", "G"), as, 403, "operation_not_allowed", ""},
			{"delete a system provider", "DELETE", "/api/providers/@appstrate/gmail", nil, as, 403, "operation_not_allowed", ""},
			{"rename through update", "PUT", "/api/providers/@acme/idp", oauth2Body("@acme/other", "X"), as, 400, "validation_failed", "id"},
			{"update another organization's provider", "PUT", "/api/providers/@acme/idp", oauth2Body("", "X"), apptest.As(other, orgB, appB), 404, "not_found", ""},
			{"admin credentials missing a required field", "PUT", "/api/providers/credentials/@appstrate/gmail",
				map[string]any{"credentials": map[string]any{"clientId": "only-the-id"}}, as, 400, "validation_failed", "credentials.clientSecret"},
			{"admin credentials with an empty value", "PUT", "/api/providers/credentials/@appstrate/gmail",
				map[string]any{"credentials": map[string]any{"clientId": "", "clientSecret": "s"}}, as, 400, "validation_failed", "credentials.clientId"},
			{"member cannot set admin credentials", "PUT", "/api/providers/credentials/@appstrate/gmail", map[string]any{"enabled": true},
				apptest.As(member, org, app), 403, "forbidden", ""},
			{"unknown provider", "PUT", "/api/providers/credentials/@acme/nope", map[string]any{"enabled": true}, as, 404, "not_found", ""},
			{"another organization's application", "GET", "/api/applications/" + appB + "/providers", nil, as, 404, "not_found", ""},
		}
		for _, tt := range refusals {
			t.Run(tt.name, func(t *testing.T) {
				p := call(t, e, tt.method, tt.path, tt.body, tt.h, tt.status).Problem(t)
				if p.Code != tt.code {
					t.Fatalf("code %s, want %s (%s)", p.Code, tt.code, p.Detail)
				}
				if tt.errorField != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.errorField) {
					t.Fatalf("errors %+v, want %s", p.Errors, tt.errorField)
				}
			})
		}

		// Update.
		upd := oauth2Body("", "Renamed IdP")
		delete(upd, "clientSecret")
		delete(upd, "clientId")
		if r := do("PUT", "/api/providers/@acme/idp", upd, as, 200); strings.TrimSpace(string(r.Body)) != `{"id":"@acme/idp"}` {
			t.Fatalf("update: %s", r.Body)
		}
		if idp := find(list(), "@acme/idp"); idp.DisplayName != "Renamed IdP" || !idp.HasCredentials {
			t.Fatalf("updated: %+v", idp)
		}

		// Admin credentials of a system provider for the application.
		do("PUT", "/api/providers/credentials/@appstrate/gmail", map[string]any{"credentials": map[string]any{
			"clientId": "gmail-client", "clientSecret": "gmail-secret-value-1"}}, as, 200)
		if g := find(list(), "@appstrate/gmail"); !g.Enabled || !g.HasCredentials {
			t.Fatalf("gmail configured: %+v", g)
		}
		// Merged: sending the secret alone keeps the id.
		do("PUT", "/api/providers/credentials/@appstrate/gmail", map[string]any{"credentials": map[string]any{
			"clientSecret": "gmail-secret-value-2"}}, as, 200)
		if r := do("PUT", "/api/providers/credentials/@appstrate/gmail", map[string]any{"enabled": false}, as, 200); strings.TrimSpace(string(r.Body)) != `{"configured":true}` {
			t.Fatalf("set: %s", r.Body)
		}
		if g := find(list(), "@appstrate/gmail"); g.Enabled || !g.HasCredentials {
			t.Fatalf("gmail disabled: %+v", g)
		}
		var rows struct {
			Object string
			Data   []struct {
				ProviderID                    string
				HasAppCredentials, AppEnabled bool
			}
		}
		do("GET", "/api/applications/"+app+"/providers", nil, as, 200).JSON(t, &rows)
		got := map[string]string{}
		for _, r := range rows.Data {
			got[r.ProviderID] = map[bool]string{true: "creds", false: "nocreds"}[r.HasAppCredentials] + "/" +
				map[bool]string{true: "on", false: "off"}[r.AppEnabled]
		}
		if rows.Object != "list" || got["@appstrate/gmail"] != "creds/off" || got["@acme/idp"] != "creds/on" || len(got) != 2 {
			t.Fatalf("application providers %v", got)
		}
		if r := do("DELETE", "/api/providers/credentials/@appstrate/gmail", nil, as, 200); strings.TrimSpace(string(r.Body)) != `{"configured":false}` {
			t.Fatalf("delete: %s", r.Body)
		}
		if g := find(list(), "@appstrate/gmail"); g.Enabled || g.HasCredentials {
			t.Fatalf("gmail deleted: %+v", g)
		}

		// The /api/applications routes address an application explicitly; an API key only its own.
		app2 := e.SeedApp(org, "Second")
		do("PUT", "/api/applications/"+app2+"/providers/@appstrate/gmail/credentials", map[string]any{"credentials": map[string]any{
			"clientId": "c2", "clientSecret": "gmail-secret-app2"}}, as, 200)
		do("GET", "/api/applications/"+app2+"/providers", nil, as, 200).JSON(t, &rows)
		if len(rows.Data) != 1 || !rows.Data[0].HasAppCredentials {
			t.Fatalf("second application %+v", rows.Data)
		}
		key, err := e.App.APIKeys.Create(context.Background(), auth.NewAPIKey{OrgID: org, ApplicationID: app, CreatedBy: owner,
			CreatorRole: auth.RoleOwner, Name: "k"}, audit.Event{OrgID: org, ApplicationID: app, ActorType: audit.ActorUser, ActorID: owner})
		if err != nil {
			t.Fatal(err)
		}
		bearer := http.Header{"Authorization": {"Bearer " + key.Key}}
		do("GET", "/api/applications/"+app2+"/providers", nil, bearer, 403)
		do("GET", "/api/applications/"+app+"/providers", nil, bearer, 200)
		do("DELETE", "/api/applications/"+app2+"/providers/@appstrate/gmail/credentials", nil, as, http.StatusNoContent)

		// Delete: refused while an agent declares the provider.
		do("POST", "/api/packages/agents", map[string]any{"manifest": map[string]any{"name": "@acme/bot", "version": "0.1.0",
			"type": "agent", "schemaVersion": "1.1", "displayName": "Bot", "description": "d",
			"dependencies": map[string]any{"providers": map[string]any{"@acme/idp": "^1.0.0"}}}, "content": "Do things."}, as, 201)
		if idp := find(list(), "@acme/idp"); idp.UsedByAgents != 1 {
			t.Fatalf("usedByAgents: %+v", idp)
		}
		if p := do("DELETE", "/api/providers/@acme/idp", nil, as, 409).Problem(t); p.Code != "provider_in_use" {
			t.Fatalf("problem %+v", p)
		}
		do("DELETE", "/api/packages/agents/@acme/bot", nil, as, 204)
		do("DELETE", "/api/providers/@acme/idp", nil, as, 204)
		if find(list(), "@acme/idp") != nil {
			t.Fatal("deleted provider still listed")
		}
		do("DELETE", "/api/providers/@acme/idp", nil, as, 404)
	})
}

// TestInvalidateConnections: invalidateConnections marks the connections made with the application's
// credentials as needing reconnection.
func TestInvalidateConnections(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		owner := e.SeedUser("owner@acme.test")
		org, app := e.SeedOrg(owner, "acme")
		as := apptest.As(owner, org, app)
		if r := e.Do(apptest.Request{Method: "POST", Path: "/api/providers", Headers: as, Body: map[string]any{"id": "@acme/keyed",
			"displayName": "K", "authMode": "api_key"}}); r.Status != 201 {
			t.Fatalf("create %d %s", r.Status, r.Body)
		}
		if r := e.Do(apptest.Request{Method: "POST", Path: "/api/connections/connect/@acme/keyed/api-key", Headers: as,
			Body: map[string]any{"apiKey": "k-1234567890"}}); r.Status != 200 {
			t.Fatalf("connect %d %s", r.Status, r.Body)
		}
		if r := e.Do(apptest.Request{Method: "PUT", Path: "/api/providers/credentials/@acme/keyed", Headers: as,
			Body: map[string]any{"invalidateConnections": true}}); r.Status != 200 {
			t.Fatalf("invalidate %d %s", r.Status, r.Body)
		}
		r := e.Do(apptest.Request{Method: "GET", Path: "/api/connections", Headers: as})
		if !strings.Contains(string(r.Body), `"status":"needs_reconnection"`) {
			t.Fatalf("connections: %s", r.Body)
		}
	})
}
