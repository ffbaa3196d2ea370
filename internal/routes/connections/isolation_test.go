package connections_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
)

// keySink records the X-Api-Key each call carries.
type keySink struct {
	mu   sync.Mutex
	last string
	srv  *httptest.Server
}

func newKeySink(t *testing.T) *keySink {
	k := &keySink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.last = r.Header.Get("X-Api-Key")
		k.mu.Unlock()
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *keySink) take() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	v := k.last
	k.last = ""
	return v
}

// TestConnectionIsolation: connections are partitioned by actor (user or end-user), by application (the
// application's provider credential row) and by organization, for listing, disconnection, profiles and the
// credential proxy.
func TestConnectionIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		sink := newKeySink(t)
		uA, a1 := w.owner, w.app
		uB := e.SeedUser("member@acme.test")
		e.SeedMember(w.org, uB, "member")
		a2 := e.SeedApp(w.org, "Second")
		uC := e.SeedUser("owner@beta.test")
		orgB, b1 := e.SeedOrg(uC, "beta")

		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/keyed", "displayName": "Keyed", "authMode": "api_key",
			"credentialHeaderName": "X-Api-Key", "authorizedUris": []string{sink.srv.URL + "/**"}}, w.as(uA)), 201)
		w.want(w.do("PUT", "/api/applications/"+a2+"/providers/@acme/keyed/credentials", map[string]any{"enabled": true}, w.as(uA)), 200)

		var eu1, eu2 struct{ ID string }
		w.want(w.do("POST", "/api/end-users", map[string]any{"name": "One"}, w.as(uA)), 201).JSON(t, &eu1)
		w.want(w.do("POST", "/api/end-users", map[string]any{"name": "Two"}, w.as(uA)), 201).JSON(t, &eu2)
		kA1 := w.apiKey(uA, auth.RoleOwner, a1)
		kA2 := w.apiKey(uA, auth.RoleOwner, a2)
		inApp := func(user, app string) http.Header { return apptest.As(user, w.org, app) }
		connect := func(h http.Header, key string) {
			t.Helper()
			w.want(w.do("POST", "/api/connections/connect/@acme/keyed/api-key", map[string]any{"apiKey": key}, h), 200)
		}
		connect(inApp(uA, a1), "key-A1-userA")
		connect(inApp(uA, a2), "key-A2-userA")
		connect(inApp(uB, a1), "key-A1-userB")
		connect(bearer(kA1, "Appstrate-User", eu1.ID), "key-A1-endUser1")

		type conn struct{ ConnectionID, ConnectionProfileID string }
		list := func(h http.Header) []conn {
			t.Helper()
			var l struct{ Data []conn }
			w.want(w.do("GET", "/api/connections", nil, h), 200).JSON(t, &l)
			return l.Data
		}
		aA1, aA2, bA1 := list(inApp(uA, a1)), list(inApp(uA, a2)), list(inApp(uB, a1))
		e1, e2 := list(bearer(kA1, "Appstrate-User", eu1.ID)), list(bearer(kA1, "Appstrate-User", eu2.ID))
		if len(aA1) != 1 || len(aA2) != 1 || len(bA1) != 1 || len(e1) != 1 || len(e2) != 0 {
			t.Fatalf("lists: userA/app1 %v, userA/app2 %v, userB/app1 %v, eu1 %v, eu2 %v", aA1, aA2, bA1, e1, e2)
		}
		ids := map[string]bool{aA1[0].ConnectionID: true, aA2[0].ConnectionID: true, bA1[0].ConnectionID: true, e1[0].ConnectionID: true}
		if len(ids) != 4 {
			t.Fatalf("connections are shared: %v", ids)
		}
		if aA1[0].ConnectionProfileID != aA2[0].ConnectionProfileID {
			t.Fatal("a user's default profile should hold both applications' connections")
		}
		// An API key acts as its creator unless it impersonates an end-user.
		if got := list(bearer(kA1)); len(got) != 1 || got[0].ConnectionID != aA1[0].ConnectionID {
			t.Fatalf("API key as its creator: %v", got)
		}

		tests := []struct {
			name   string
			method string
			path   string
			h      http.Header
			status int
		}{
			{"another member's profile", "GET", "/api/connections?connectionProfileId=" + aA1[0].ConnectionProfileID, inApp(uB, a1), 403},
			{"an end-user's profile from the user", "GET", "/api/connections?connectionProfileId=" + e1[0].ConnectionProfileID, inApp(uA, a1), 403},
			{"another member's connection", "DELETE", "/api/connections/@acme/keyed?connectionId=" + aA1[0].ConnectionID, inApp(uB, a1), 404},
			{"another end-user's connection", "DELETE", "/api/connections/@acme/keyed?connectionId=" + e1[0].ConnectionID,
				bearer(kA1, "Appstrate-User", eu2.ID), 404},
			{"another application's connection", "DELETE", "/api/connections/@acme/keyed?connectionId=" + aA2[0].ConnectionID, inApp(uA, a1), 404},
			{"another organization's provider", "POST", "/api/connections/connect/@acme/keyed/api-key", apptest.As(uC, orgB, b1), 404},
			{"not a member of the organization", "GET", "/api/connections", apptest.As(uC, w.org, a1), 403},
			{"an API key on another application", "GET", "/api/connections", bearer(kA1, "X-Application-Id", a2), 403},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var body any
				if tt.method == "POST" {
					body = map[string]any{"apiKey": "intruder-key"}
				}
				w.want(w.do(tt.method, tt.path, body, tt.h), tt.status)
			})
		}
		if got := list(apptest.As(uC, orgB, b1)); len(got) != 0 {
			t.Fatalf("other organization sees %v", got)
		}

		// The credential proxy injects the caller's own connection.
		proxy := func(h http.Header) int {
			h.Set("X-Provider", "@acme/keyed")
			h.Set("X-Target", sink.srv.URL+"/whoami")
			return w.do("GET", "/api/credential-proxy/proxy", nil, h).Status
		}
		for _, tt := range []struct {
			name    string
			h       http.Header
			status  int
			wantKey string
		}{
			{"user A in application 1", bearer(kA1), 200, "key-A1-userA"},
			{"user A in application 2", bearer(kA2), 200, "key-A2-userA"},
			{"end-user 1", bearer(kA1, "Appstrate-User", eu1.ID), 200, "key-A1-endUser1"},
			{"end-user 2 has no connection", bearer(kA1, "Appstrate-User", eu2.ID), 404, ""},
			{"another member's profile", bearer(kA1, "X-Connection-Profile-Id", bA1[0].ConnectionProfileID), 403, ""},
		} {
			t.Run("proxy "+tt.name, func(t *testing.T) {
				if got := proxy(tt.h); got != tt.status {
					t.Fatalf("status %d, want %d", got, tt.status)
				}
				if got := sink.take(); got != tt.wantKey {
					t.Fatalf("provider received %q, want %q", got, tt.wantKey)
				}
			})
		}
		// Still there after all the refused attempts.
		if len(list(inApp(uA, a1))) != 1 || len(list(bearer(kA1, "Appstrate-User", eu1.ID))) != 1 {
			t.Fatal("a refused request changed a connection")
		}
	})
}
