package connections_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
)

type oauthVariant struct {
	name      string
	basicAuth bool
	jsonBody  bool
	pkce      bool
}

// TestOAuth2ConnectionLifecycle runs the whole OAuth 2 life of a connection against a real authorization
// server: connect → authorize → callback → encrypted row → credential proxy call → refresh before expiry →
// refresh after a 401 → revoked refresh token marks needs_reconnection → reconnect.
func TestOAuth2ConnectionLifecycle(t *testing.T) {
	variants := []oauthVariant{
		{name: "post+form+pkce", pkce: true},
		{name: "basic+json, no pkce", basicAuth: true, jsonBody: true},
	}
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		for i, v := range variants {
			t.Run(v.name, func(t *testing.T) {
				oauth2Lifecycle(t, e, v, []string{"acme", "beta"}[i])
			})
		}
	})
}

func oauth2Lifecycle(t *testing.T, e *apptest.Env, v oauthVariant, slug string) {
	w := newWorld(t, e, slug)
	srv := newAuthServer(t)
	srv.BasicAuth, srv.JSONBody = v.basicAuth, v.jsonBody
	srv.ExpiresIn = 30 // inside the 60 s refresh window: the first use refreshes
	providerID := "@" + slug + "/idp"

	body := map[string]any{"id": providerID, "displayName": "Test IdP", "authMode": "oauth2",
		"clientId": srv.ClientID, "clientSecret": srv.ClientSecret,
		"authorizationUrl": srv.URL() + "/authorize", "tokenUrl": srv.URL() + "/token",
		"defaultScopes": []string{"read"}, "pkceEnabled": v.pkce, "authorizedUris": []string{srv.URL() + "/api/**"}}
	if v.basicAuth {
		body["tokenAuthMethod"] = "client_secret_basic"
	}
	if v.jsonBody {
		body["tokenContentType"] = "application/json"
	}
	r := w.want(w.do("POST", "/api/providers", body, w.as(w.owner)), http.StatusCreated)
	if !contains(r.Body, `"id":"`+providerID+`"`) {
		t.Fatalf("create: %s", r.Body)
	}

	// Start: the authorize URL carries the client, the callback, the scopes and (when enabled) PKCE.
	var start struct{ AuthURL, State string }
	w.want(w.do("POST", "/api/connections/connect/"+providerID, map[string]any{"scopes": []string{"write"}}, w.as(w.owner)), 200).
		JSON(t, &start)
	au, _ := url.Parse(start.AuthURL)
	q := au.Query()
	if !strings.HasPrefix(start.AuthURL, srv.URL()+"/authorize?") || q.Get("state") != start.State || q.Get("scope") != "read write" ||
		q.Get("redirect_uri") != e.Config.AppURL+"/api/connections/callback" || q.Get("client_id") != srv.ClientID {
		t.Fatalf("authUrl %s (state %s)", start.AuthURL, start.State)
	}
	if got := q.Get("code_challenge_method"); (got == "S256") != v.pkce {
		t.Fatalf("code_challenge_method = %q with pkce %v", got, v.pkce)
	}

	// The user approves; the provider sends the browser to the callback.
	cb := browse(t, start.AuthURL)
	r = w.want(w.do("GET", cb.RequestURI(), nil, nil), 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !contains(r.Body, "Connected") ||
		!contains(r.Body, "appstrate:oauth-callback") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("callback page %s: %s", ct, r.Body)
	}
	// A state is single-use.
	r = w.want(w.do("GET", cb.RequestURI(), nil, nil), 200)
	if !contains(r.Body, "expired or was already completed") {
		t.Fatalf("replayed callback: %s", r.Body)
	}

	var list struct {
		Object string
		Data   []struct {
			Provider, Status, ConnectionID, ConnectionProfileID string
			ScopesGranted                                       []string
			ExpiresAt                                           *string
		}
	}
	w.want(w.do("GET", "/api/connections", nil, w.as(w.owner)), 200).JSON(t, &list)
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].Provider != providerID || list.Data[0].Status != "connected" ||
		strings.Join(list.Data[0].ScopesGranted, " ") != "read write" || list.Data[0].ExpiresAt == nil {
		t.Fatalf("connections: %+v", list)
	}
	connID := list.Data[0].ConnectionID

	// Encrypted at rest.
	env := columnValue(t, e.DB, `SELECT credentials_encrypted FROM user_provider_connections WHERE id = ?`, connID)
	if !strings.HasPrefix(env, "v1:") {
		t.Fatalf("credentials_encrypted = %q", env)
	}
	noSecret(t, "the database", rawDatabase(t, e.DB), append(srv.Issued, srv.ClientSecret)...)

	// The credential proxy: the token expires within the refresh window, so it is refreshed before use.
	srv.ExpiresIn = 3600
	key := w.apiKey(w.owner, auth.RoleOwner, w.app)
	call := func(path string) *apptest.Response {
		return w.do("GET", "/api/credential-proxy/proxy", nil, bearer(key, "X-Provider", providerID, "X-Target", srv.URL()+path))
	}
	r = w.want(call("/api/me"), 200)
	if !contains(r.Body, `"user-42"`) || srv.refreshCount() != 1 || r.Header.Get("X-Auth-Refreshed") != "" || r.Header.Get("Set-Cookie") != "" {
		t.Fatalf("proxy: refreshes %d, headers %v, body %s", srv.refreshCount(), r.Header, r.Body)
	}
	// A 401 from the provider refreshes once and replays.
	srv.ExpireAccess()
	r = w.want(call("/api/me"), 200)
	if r.Header.Get("X-Auth-Refreshed") != "true" || srv.refreshCount() != 2 {
		t.Fatalf("after 401: refreshes %d, headers %v", srv.refreshCount(), r.Header)
	}
	// The provider echoing the credential does not leak it.
	r = w.want(call("/api/echo"), 200)
	if !contains(r.Body, "Bearer [REDACTED]") || r.Header.Get("X-Seen-Authorization") != "Bearer [REDACTED]" {
		t.Fatalf("echo: %v %s", r.Header, r.Body)
	}

	// The refresh token is revoked: the next 401 cannot be repaired and the connection needs reconnection.
	srv.RevokeRefresh("")
	srv.ExpireAccess()
	r = w.want(call("/api/me"), http.StatusUnauthorized)
	if r.Header.Get("X-Auth-Refreshed") != "" {
		t.Fatalf("revoked: %v", r.Header)
	}
	w.want(w.do("GET", "/api/connections", nil, w.as(w.owner)), 200).JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].Status != "needs_reconnection" {
		t.Fatalf("after revocation: %+v", list.Data)
	}
	if p := w.want(call("/api/me"), http.StatusBadRequest).Problem(t); p.Code != "needs_reconnection" {
		t.Fatalf("problem %+v", p)
	}

	// Reconnecting repairs the same connection.
	w.want(w.do("POST", "/api/connections/connect/"+providerID, nil, w.as(w.owner)), 200).JSON(t, &start)
	w.want(w.do("GET", browse(t, start.AuthURL).RequestURI(), nil, nil), 200)
	w.want(w.do("GET", "/api/connections", nil, w.as(w.owner)), 200).JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].Status != "connected" || list.Data[0].ConnectionID != connID {
		t.Fatalf("after reconnection: %+v", list.Data)
	}
	w.want(call("/api/me"), 200)

	// No stored credential ever appears in plain text: database, logs, any response of the flow.
	secrets := append(append([]string{}, srv.Issued...), srv.ClientSecret)
	noSecret(t, "the database", rawDatabase(t, e.DB), secrets...)
	noSecret(t, "the logs", e.Logs.Bytes(), secrets...)
	for _, b := range w.bodies {
		noSecret(t, "a response body", b, secrets...)
	}
}

func TestOAuth2CallbackErrors(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		srv := newAuthServer(t)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/idp", "displayName": "IdP", "authMode": "oauth2",
			"clientId": srv.ClientID, "clientSecret": srv.ClientSecret, "authorizationUrl": srv.URL() + "/authorize",
			"tokenUrl": srv.URL() + "/token", "authorizedUris": []string{srv.URL() + "/**"}}, w.as(w.owner)), 201)
		var start struct{ AuthURL, State string }

		tests := []struct {
			name  string
			query func() string
			want  string
		}{
			{"unknown state", func() string { return "code=x&state=nope" }, "expired or was already completed"},
			{"no state", func() string { return "code=x" }, "no state"},
			{"denied, message escaped", func() string {
				w.want(w.do("POST", "/api/connections/connect/@acme/idp", nil, w.as(w.owner)), 200).JSON(t, &start)
				return "error=" + url.QueryEscape("<script>alert(1)</script>") + "&state=" + start.State
			}, "&lt;script&gt;alert(1)&lt;/script&gt;"},
			{"code refused by the provider", func() string {
				w.want(w.do("POST", "/api/connections/connect/@acme/idp", nil, w.as(w.owner)), 200).JSON(t, &start)
				return "code=forged&state=" + start.State
			}, "refused the authorization"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := w.want(w.do("GET", "/api/connections/callback?"+tt.query(), nil, nil), 200)
				if !contains(r.Body, tt.want) || contains(r.Body, "<script>alert") || !contains(r.Body, "Connection failed") {
					t.Fatalf("page: %s", r.Body)
				}
			})
		}
		// The denied flow's state was consumed.
		r := w.want(w.do("GET", "/api/connections/callback?code=x&state="+start.State, nil, nil), 200)
		if !contains(r.Body, "expired or was already completed") {
			t.Fatalf("state reused: %s", r.Body)
		}
		var list struct{ Data []any }
		w.want(w.do("GET", "/api/connections", nil, w.as(w.owner)), 200).JSON(t, &list)
		if len(list.Data) != 0 {
			t.Fatalf("connections: %+v", list.Data)
		}
	})
}

func TestOAuthStartRefusals(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		e.App.SyncSystemPackages(context.Background())
		srv := newAuthServer(t)
		viewer := e.SeedUser("viewer@example.test")
		e.SeedMember(w.org, viewer, "viewer")
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/noclient", "displayName": "IdP", "authMode": "oauth2",
			"authorizationUrl": srv.URL() + "/authorize", "tokenUrl": srv.URL() + "/token"}, w.as(w.owner)), 201)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/keyed", "displayName": "Keyed", "authMode": "api_key"},
			w.as(w.owner)), 201)

		tests := []struct {
			name, path, user string
			body             any
			status           int
			code             string
		}{
			{"admin credentials missing", "/api/connections/connect/@acme/noclient", w.owner, nil, 400, "provider_not_configured"},
			{"system provider not enabled in the application", "/api/connections/connect/@appstrate/gmail", w.owner, nil, 403, "forbidden"},
			{"unknown provider", "/api/connections/connect/@acme/nope", w.owner, nil, 404, "not_found"},
			{"not an OAuth provider", "/api/connections/connect/@acme/keyed", w.owner, nil, 400, "invalid_request"},
			{"viewer lacks connections:connect", "/api/connections/connect/@acme/noclient", viewer, nil, 403, "forbidden"},
			{"scopes with whitespace", "/api/connections/connect/@acme/noclient", w.owner, map[string]any{"scopes": []string{"a b"}}, 400, "validation_failed"},
			{"another user's profile", "/api/connections/connect/@acme/noclient", w.owner,
				map[string]any{"connectionProfileId": "00000000-0000-4000-8000-000000000000"}, 403, "forbidden"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := w.want(w.do("POST", tt.path, tt.body, w.as(tt.user)), tt.status)
				if p := r.Problem(t); p.Code != tt.code {
					t.Fatalf("code %s, want %s (%s)", p.Code, tt.code, p.Detail)
				}
			})
		}
	})
}

// TestConcurrentRefreshOnce: many callers hitting a 401 at the same time refresh the token once (rotating
// refresh tokens would otherwise be burnt), and every call succeeds with the new token.
func TestConcurrentRefreshOnce(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		srv := newAuthServer(t)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/idp", "displayName": "IdP", "authMode": "oauth2",
			"clientId": srv.ClientID, "clientSecret": srv.ClientSecret, "authorizationUrl": srv.URL() + "/authorize",
			"tokenUrl": srv.URL() + "/token", "authorizedUris": []string{srv.URL() + "/api/**"}}, w.as(w.owner)), 201)
		var start struct{ AuthURL, State string }
		w.want(w.do("POST", "/api/connections/connect/@acme/idp", nil, w.as(w.owner)), 200).JSON(t, &start)
		w.want(w.do("GET", browse(t, start.AuthURL).RequestURI(), nil, nil), 200)
		key := w.apiKey(w.owner, auth.RoleOwner, w.app)
		srv.ExpireAccess()

		const callers = 8
		statuses := make(chan int, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Do(apptest.Request{Method: "GET", Path: "/api/credential-proxy/proxy",
					Headers: bearer(key, "X-Provider", "@acme/idp", "X-Target", srv.URL()+"/api/me")})
				statuses <- r.Status
			}()
		}
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != 200 {
				t.Fatalf("a concurrent call answered %d", s)
			}
		}
		if srv.refreshCount() != 1 {
			t.Fatalf("%d refreshes for %d concurrent 401s", srv.refreshCount(), callers)
		}
	})
}
