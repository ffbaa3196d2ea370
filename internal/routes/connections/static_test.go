package connections_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

// TestAPIKeyAndCredentials covers the connections that need no flow: an API key, and multi-field credentials
// validated against the provider's credential schema; listing, integrations and disconnection.
func TestAPIKeyAndCredentials(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		e.App.SyncSystemPackages(context.Background())
		viewer := e.SeedUser("viewer@example.test")
		e.SeedMember(w.org, viewer, "viewer")
		owner := w.as(w.owner)

		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/keyed", "displayName": "Keyed", "authMode": "api_key",
			"credentialHeaderName": "X-Api-Key", "authorizedUris": []string{"https://api.keyed.test/**"}}, owner), 201)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/desk", "displayName": "Desk", "authMode": "custom",
			"credentialSchema": map[string]any{"type": "object",
				"properties": map[string]any{"subdomain": map[string]any{"type": "string", "pattern": "^[a-z0-9-]+$"},
					"email": map[string]any{"type": "string"}, "api_token": map[string]any{"type": "string", "minLength": 8}},
				"required": []string{"subdomain", "api_token"}},
			"authorizedUris": []string{"https://*.desk.test/api/**"}}, owner), 201)

		const apiKey = "sk_live_0123456789abcdef"
		const token = "desk-token-abcdef-987654"
		tests := []struct {
			name, path, user string
			body             any
			status           int
			code, field      string
		}{
			{name: "api key", path: "@acme/keyed/api-key", user: w.owner, body: map[string]any{"apiKey": "  " + apiKey + "  "}, status: 200},
			{name: "empty api key", path: "@acme/keyed/api-key", user: w.owner, body: map[string]any{"apiKey": "   "}, status: 400, code: "validation_failed", field: "apiKey"},
			{name: "api key for a custom provider", path: "@acme/desk/api-key", user: w.owner, body: map[string]any{"apiKey": "x"}, status: 400, code: "invalid_request"},
			{name: "missing required field", path: "@acme/desk/credentials", user: w.owner,
				body: map[string]any{"credentials": map[string]any{"subdomain": "acme"}}, status: 400, code: "validation_failed", field: "credentials.api_token"},
			{name: "undeclared field", path: "@acme/desk/credentials", user: w.owner,
				body: map[string]any{"credentials": map[string]any{"subdomain": "acme", "api_token": token, "other": "x"}}, status: 400,
				code: "validation_failed", field: "credentials.other"},
			{name: "pattern", path: "@acme/desk/credentials", user: w.owner,
				body: map[string]any{"credentials": map[string]any{"subdomain": "evil.test/x", "api_token": token}}, status: 400,
				code: "validation_failed", field: "credentials.subdomain"},
			{name: "wrong type", path: "@acme/desk/credentials", user: w.owner,
				body: map[string]any{"credentials": map[string]any{"subdomain": "acme", "api_token": 12345678}}, status: 400,
				code: "validation_failed", field: "credentials.api_token"},
			{name: "credentials", path: "@acme/desk/credentials", user: w.owner,
				body: map[string]any{"credentials": map[string]any{"subdomain": "acme", "api_token": token}}, status: 200},
			{name: "viewer cannot connect", path: "@acme/keyed/api-key", user: viewer, body: map[string]any{"apiKey": "k"}, status: 403, code: "forbidden"},
			{name: "system provider not enabled", path: "@appstrate/activecampaign/api-key", user: w.owner,
				body: map[string]any{"apiKey": "k"}, status: 403, code: "forbidden"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := w.want(w.do("POST", "/api/connections/connect/"+tt.path, tt.body, w.as(tt.user)), tt.status)
				if tt.status == 200 {
					if !contains(r.Body, `"success":true`) {
						t.Fatalf("body %s", r.Body)
					}
					return
				}
				p := r.Problem(t)
				if p.Code != tt.code {
					t.Fatalf("code %s, want %s: %s", p.Code, tt.code, p.Detail)
				}
				if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
					t.Fatalf("errors %+v, want field %s", p.Errors, tt.field)
				}
			})
		}

		// An admin enables the system provider for the application: then it connects.
		w.want(w.do("PUT", "/api/providers/credentials/@appstrate/activecampaign", map[string]any{"enabled": true}, owner), 200)
		w.want(w.do("POST", "/api/connections/connect/@appstrate/activecampaign/credentials",
			map[string]any{"credentials": map[string]any{"account_name": "acme", "api_key": "ac-key-000111222"}}, owner), 200)

		var list struct {
			Data []struct{ Provider, Status, ConnectionID string }
		}
		w.want(w.do("GET", "/api/connections", nil, owner), 200).JSON(t, &list)
		var got []string
		for _, c := range list.Data {
			got = append(got, c.Provider+"="+c.Status)
		}
		if strings.Join(got, ",") != "@acme/desk=connected,@acme/keyed=connected,@appstrate/activecampaign=connected" {
			t.Fatalf("connections %v", got)
		}
		var integrations struct {
			Integrations []struct {
				UniqueKey, Provider, Status, AuthMode string
				ConnectionID                          *string
			}
		}
		w.want(w.do("GET", "/api/connections/integrations", nil, owner), 200).JSON(t, &integrations)
		modes := map[string]string{}
		for _, in := range integrations.Integrations {
			modes[in.Provider] = in.AuthMode + "/" + in.Status
		}
		if modes["@acme/keyed"] != "API_KEY/connected" || modes["@acme/desk"] != "OAUTH2/connected" || len(modes) != 3 {
			t.Fatalf("integrations %v", modes)
		}

		// Stored encrypted, and the key was trimmed before storage (the proxy test checks the value).
		for _, c := range list.Data {
			env := columnValue(t, e.DB, `SELECT credentials_encrypted FROM user_provider_connections WHERE id = ?`, c.ConnectionID)
			if !strings.HasPrefix(env, "v1:") {
				t.Fatalf("%s: %q", c.Provider, env)
			}
		}
		noSecret(t, "the database", rawDatabase(t, e.DB), apiKey, token, "ac-key-000111222")
		noSecret(t, "the logs", e.Logs.Bytes(), apiKey, token, "ac-key-000111222")

		// Disconnect: by provider, then again (nothing left), then by connection id.
		r := w.want(w.do("DELETE", "/api/connections/@acme/keyed", nil, owner), 200)
		if !contains(r.Body, `"deleted":1`) {
			t.Fatalf("disconnect: %s", r.Body)
		}
		r = w.want(w.do("DELETE", "/api/connections/@acme/keyed", nil, owner), 200)
		if !contains(r.Body, `"deleted":0`) {
			t.Fatalf("disconnect again: %s", r.Body)
		}
		var deskID string
		for _, c := range list.Data {
			if c.Provider == "@acme/desk" {
				deskID = c.ConnectionID
			}
		}
		w.want(w.do("DELETE", "/api/connections/@acme/keyed?connectionId="+deskID, nil, owner), http.StatusNotFound)
		w.want(w.do("DELETE", "/api/connections/@acme/desk?connectionId="+deskID, nil, w.as(viewer)), http.StatusForbidden)
		w.want(w.do("DELETE", "/api/connections/@acme/desk?connectionId="+deskID, nil, owner), 200)
		w.want(w.do("GET", "/api/connections", nil, owner), 200).JSON(t, &list)
		if len(list.Data) != 1 || list.Data[0].Provider != "@appstrate/activecampaign" {
			t.Fatalf("after disconnect %+v", list.Data)
		}

		for _, b := range w.bodies {
			noSecret(t, "a response body", b, apiKey, token, "ac-key-000111222")
		}
	})
}
