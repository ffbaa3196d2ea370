package profiles_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

type binding struct {
	AppProfileID      string  `json:"appProfileId"`
	AppProfileName    string  `json:"appProfileName"`
	ProviderID        string  `json:"providerId"`
	SourceProfileID   string  `json:"sourceProfileId"`
	SourceProfileName string  `json:"sourceProfileName"`
	BoundByUserID     *string `json:"boundByUserId"`
	BoundByName       *string `json:"boundByName"`
	Status            string  `json:"status"`
	ConnectionID      *string `json:"connectionId"`
}

func (w *world) bindings(path string, h http.Header) []binding {
	w.e.T.Helper()
	var l list[binding]
	w.do("GET", path, nil, h, 200, "").JSON(w.e.T, &l)
	return l.Data
}

func TestAppProfilesCRUD(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		var l list[profile]
		w.do("GET", "/api/app-profiles", nil, w.asVic, 200, "").JSON(t, &l)
		if len(l.Data) != 1 || l.Data[0].ID != shared || l.Data[0].ApplicationID == nil || *l.Data[0].ApplicationID != w.app ||
			l.Data[0].IsDefault || l.Data[0].ConnectionCount != 0 || l.Data[0].BindingCount != 0 || l.Data[0].AgentCount != 0 {
			t.Fatalf("list %s", mustJSON(t, l))
		}
		// App profiles are not the user's own profiles, and stay in their application.
		for _, p := range w.profiles(w.asAda) {
			if p.ID == shared {
				t.Fatal("app profile listed among the user's profiles")
			}
		}
		w.do("GET", "/api/app-profiles", nil, w.asAdaK2, 200, "").JSON(t, &l)
		if len(l.Data) != 0 {
			t.Fatalf("app2 sees %s", mustJSON(t, l))
		}

		item := "/api/app-profiles/" + shared
		tests := []struct {
			name, method, path string
			body               any
			h                  http.Header
			status             int
			code               string
		}{
			{"member cannot create", "POST", "/api/app-profiles", map[string]any{"name": "x"}, w.asBob, 403, "forbidden"},
			{"viewer cannot create", "POST", "/api/app-profiles", map[string]any{"name": "x"}, w.asVic, 403, "forbidden"},
			{"API keys hold no app-profiles permission", "GET", "/api/app-profiles", nil, w.key(), 403, "forbidden"},
			{"blank name", "POST", "/api/app-profiles", map[string]any{"name": " "}, w.asAda, 400, "validation_failed"},
			{"member cannot rename", "PUT", item, map[string]any{"name": "x"}, w.asBob, 403, "forbidden"},
			{"member cannot delete", "DELETE", item, nil, w.asBob, 403, "forbidden"},
			{"rename from another application", "PUT", item, map[string]any{"name": "x"}, w.asAdaK2, 404, "not_found"},
			{"delete from another application", "DELETE", item, nil, w.asAdaK2, 404, "not_found"},
			{"bindings from another application", "GET", item + "/bindings", nil, w.asAdaK2, 404, "not_found"},
			{"agents from another application", "GET", item + "/agents", nil, w.asAdaK2, 404, "not_found"},
			{"connections from another application", "GET", item + "/connections", nil, w.asAdaK2, 404, "not_found"},
			{"bind from another application", "POST", item + "/bind", map[string]any{"providerId": mail}, w.asAdaK2, 404, "not_found"},
			{"another organization", "GET", item + "/bindings", nil, w.asEve, 404, "not_found"},
			{"another organization's app header", "GET", item + "/bindings", nil, apptest.As(w.eve, w.rival, w.app), 404, "not_found"},
			{"a user profile is not an app profile", "PUT", "/api/app-profiles/" + w.defaultProfile(w.asAda), map[string]any{"name": "x"}, w.asAda, 404, "not_found"},
			{"rename", "PUT", item, map[string]any{"name": "Team"}, w.asAda, 200, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { w.do(tc.method, tc.path, tc.body, tc.h, tc.status, tc.code) })
		}

		// Agents using the profile.
		w.do("PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": shared}, w.asAda, 200, "")
		var agents list[struct {
			ID, DisplayName string
			Enabled         bool
		}]
		w.do("GET", item+"/agents", nil, w.asVic, 200, "").JSON(t, &agents)
		if len(agents.Data) != 1 || agents.Data[0].ID != "@acme/writer" || !agents.Data[0].Enabled {
			t.Fatalf("agents %s", mustJSON(t, agents))
		}
		w.do("GET", "/api/app-profiles", nil, w.asAda, 200, "").JSON(t, &l)
		if l.Data[0].Name != "Team" || l.Data[0].AgentCount != 1 {
			t.Fatalf("list %s", mustJSON(t, l))
		}

		// Deleting it detaches the agents.
		w.do("DELETE", item, nil, w.asAda, 200, "")
		w.do("DELETE", item, nil, w.asAda, 404, "not_found")
		if got := w.scalar(`SELECT app_profile_id FROM application_packages WHERE application_id = ? AND package_id = '@acme/writer'`, w.app); got != "" {
			t.Fatalf("agent still uses %q", got)
		}
	})
}

func TestAppProfileCreateRateLimit(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		for i := 0; i < 10; i++ {
			w.do("POST", "/api/app-profiles", map[string]any{"name": "p"}, w.asAda, 201, "")
		}
		w.do("POST", "/api/app-profiles", map[string]any{"name": "p"}, w.asAda, 429, "rate_limited")
	})
}

func TestAppProfileBindings(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		bind, item := "/api/app-profiles/"+shared+"/bind", "/api/app-profiles/"+shared
		bobDefault, adaDefault := w.defaultProfile(w.asBob), w.defaultProfile(w.asAda)
		bobWork := w.create("/api/connection-profiles", "Bob work", w.asBob)
		dan := e.SeedUser("dan@acme.test") // a second member, so that bob stays under the bind rate limit (10/min)
		e.SeedMember(w.acme, dan, "member")
		asDan := apptest.As(dan, w.acme, w.app)

		// Bob's connections: mail on his Default in app2 only (another application's credentials), crm needing
		// reconnection on his Default; mail on his work profile in app. Ada has mail on her Default in app.
		w.connect(bobDefault, mail, w.app2, false)
		w.connect(bobDefault, crm, w.app, true)
		bobMail := w.connect(bobWork, mail, w.app, false, "mail.read")
		w.connect(adaDefault, mail, w.app, false)

		tests := []struct {
			name   string
			body   map[string]any
			h      http.Header
			status int
			code   string
		}{
			{"viewer cannot bind", map[string]any{"providerId": mail}, w.asVic, 403, "forbidden"},
			{"invalid provider id", map[string]any{"providerId": "mail"}, asDan, 400, "validation_failed"},
			{"the connection of another application does not count", map[string]any{"providerId": mail}, w.asBob, 400, "dependency_not_satisfied"},
			{"no connection at all", map[string]any{"providerId": "@acme/none"}, asDan, 400, "dependency_not_satisfied"},
			{"a connection needing reconnection", map[string]any{"providerId": crm}, w.asBob, 400, "needs_reconnection"},
			{"another user's profile", map[string]any{"providerId": mail, "sourceProfileId": adaDefault}, asDan, 404, "not_found"},
			{"an unknown profile", map[string]any{"providerId": mail, "sourceProfileId": "nope"}, asDan, 404, "not_found"},
			{"an app profile as source", map[string]any{"providerId": mail, "sourceProfileId": shared}, asDan, 404, "not_found"},
			{"bind to own connection", map[string]any{"providerId": mail, "sourceProfileId": bobWork}, w.asBob, 200, ""},
			{"rebind own binding", map[string]any{"providerId": mail, "sourceProfileId": bobWork}, w.asBob, 200, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := w.do("POST", bind, tc.body, tc.h, tc.status, tc.code)
				if tc.status == 200 && strings.TrimSpace(string(res.Body)) != `{"bound":true}` {
					t.Fatalf("body %s", res.Body)
				}
				if got := res.Header.Get("RateLimit-Policy"); tc.status != 403 && got != "10;w=60" {
					t.Fatalf("RateLimit-Policy %q", got)
				}
			})
		}

		got := w.bindings(item+"/bindings", w.asVic)
		if len(got) != 1 || got[0].ProviderID != mail || got[0].SourceProfileID != bobWork || got[0].SourceProfileName != "Bob work" ||
			got[0].BoundByUserID == nil || *got[0].BoundByUserID != w.bob || got[0].BoundByName == nil || *got[0].BoundByName != "bob@acme.test" ||
			got[0].Status != "connected" || got[0].ConnectionID == nil || *got[0].ConnectionID != bobMail || got[0].AppProfileName != "Shared" {
			t.Fatalf("bindings %s", mustJSON(t, got))
		}
		if mine := w.bindings("/api/app-profiles/my-bindings", w.asBob); len(mine) != 1 || mine[0].AppProfileID != shared {
			t.Fatalf("bob's bindings %s", mustJSON(t, mine))
		}
		if mine := w.bindings("/api/app-profiles/my-bindings", w.asAda); len(mine) != 0 {
			t.Fatalf("ada's bindings %s", mustJSON(t, mine))
		}
		if mine := w.bindings("/api/app-profiles/my-bindings", apptest.As(w.bob, w.acme, w.app2)); len(mine) != 0 {
			t.Fatalf("bob's bindings in app2 %s", mustJSON(t, mine))
		}

		// Another member's binding: replacing or removing it needs app-profiles:write.
		w.do("POST", bind, map[string]any{"providerId": mail}, w.asAda, 200, "") // owner: write
		if got := w.bindings(item+"/bindings", w.asAda); got[0].SourceProfileID != adaDefault || *got[0].BoundByUserID != w.ada {
			t.Fatalf("after ada's rebind %s", mustJSON(t, got))
		}
		w.do("POST", bind, map[string]any{"providerId": mail, "sourceProfileId": bobWork}, w.asBob, 403, "forbidden")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asBob, 403, "forbidden")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asVic, 403, "forbidden")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asAdaK2, 404, "not_found")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asAda, 200, "")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asAda, 404, "not_found")

		// A member removes their own binding.
		w.do("POST", bind, map[string]any{"providerId": mail, "sourceProfileId": bobWork}, w.asBob, 200, "")
		w.do("DELETE", bind+"/@acme/mail", nil, w.asBob, 200, "")

		// A binding whose source connection goes away shows not_connected.
		w.do("POST", bind, map[string]any{"providerId": mail, "sourceProfileId": bobWork}, w.asBob, 200, "")
		w.exec(`UPDATE user_provider_connections SET needs_reconnection = ? WHERE id = ?`, true, bobMail)
		if got := w.bindings(item+"/bindings", w.asAda); got[0].Status != "needs_reconnection" {
			t.Fatalf("status %s", mustJSON(t, got))
		}
		w.exec(`DELETE FROM user_provider_connections WHERE id = ?`, bobMail)
		if got := w.bindings(item+"/bindings", w.asAda); got[0].Status != "not_connected" || got[0].ConnectionID != nil {
			t.Fatalf("status %s", mustJSON(t, got))
		}
		// Deleting the source profile removes the binding.
		w.do("DELETE", "/api/connection-profiles/"+bobWork, nil, w.asBob, 200, "")
		if got := w.bindings(item+"/bindings", w.asAda); len(got) != 0 {
			t.Fatalf("bindings %s", mustJSON(t, got))
		}
		if n := w.scalar(`SELECT CAST(count(*) AS TEXT) FROM audit_events WHERE action LIKE 'app_profile.provider_%'`); n != "7" {
			t.Fatalf("%s binding audit events", n)
		}
	})
}

type connection struct {
	ConnectionID    string   `json:"connectionId"`
	ProviderID      string   `json:"providerId"`
	ProfileID       string   `json:"profileId"`
	ProfileName     string   `json:"profileName"`
	ApplicationID   string   `json:"applicationId"`
	ApplicationName string   `json:"applicationName"`
	Status          string   `json:"status"`
	ScopesGranted   []string `json:"scopesGranted"`
	ConnectedAt     string   `json:"connectedAt"`
	ExpiresAt       *string  `json:"expiresAt"`
}

func TestAppProfileConnections(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		bobDefault, adaDefault, eveDefault := w.defaultProfile(w.asBob), w.defaultProfile(w.asAda), w.defaultProfile(w.asEve)
		euDefault := w.defaultProfile(w.asEU)
		sharedMail := w.connect(shared, mail, w.app, false, "mail.read", "mail.send")
		bobMail := w.connect(bobDefault, mail, w.app, true)
		bobCRM := w.connect(bobDefault, crm, w.app, false)
		bobMail2 := w.connect(bobDefault, mail, w.app2, false)
		w.connect(adaDefault, mail, w.app, false)
		w.connect(euDefault, mail, w.app, false)

		get := func(id string, h http.Header) []connection {
			t.Helper()
			var l list[connection]
			w.do("GET", "/api/app-profiles/"+id+"/connections", nil, h, 200, "").JSON(t, &l)
			return l.Data
		}
		if got := get(shared, w.asVic); len(got) != 1 || got[0].ConnectionID != sharedMail || got[0].Status != "connected" ||
			strings.Join(got[0].ScopesGranted, ",") != "mail.read,mail.send" || got[0].ConnectedAt == "" || got[0].ExpiresAt != nil {
			t.Fatalf("app profile connections %s", mustJSON(t, got))
		}
		// Another member's profile, read-only, this application's connections only.
		if got := get(bobDefault, w.asAda); len(got) != 2 || got[0].ConnectionID != bobCRM || got[1].ConnectionID != bobMail ||
			got[1].Status != "needs_reconnection" {
			t.Fatalf("bob's connections %s", mustJSON(t, got))
		}
		if got := get(bobDefault, apptest.As(w.ada, w.acme, w.app2)); len(got) != 1 || got[0].ConnectionID != bobMail2 {
			t.Fatalf("bob's connections in app2 %s", mustJSON(t, got))
		}
		for _, body := range [][]byte{mustJSON(t, get(bobDefault, w.asAda)), mustJSON(t, get(shared, w.asAda))} {
			if strings.Contains(string(body), "secret-token") || strings.Contains(string(body), "v1:") {
				t.Fatalf("credentials leaked: %s", body)
			}
		}
		// Profiles outside the organization's members and the application are not visible.
		w.do("GET", "/api/app-profiles/"+eveDefault+"/connections", nil, w.asAda, 404, "not_found")
		w.do("GET", "/api/app-profiles/"+euDefault+"/connections", nil, w.asAda, 404, "not_found")
		w.do("GET", "/api/app-profiles/"+shared+"/connections", nil, w.asAdaK2, 404, "not_found")
		w.do("GET", "/api/app-profiles/"+shared+"/connections", nil, w.asEve, 404, "not_found")

		// My connections: every connection on bob's own profiles, grouped provider → organization.
		var mine list[struct {
			ProviderID string `json:"providerId"`
			Orgs       []struct {
				OrgID       string       `json:"orgId"`
				OrgName     string       `json:"orgName"`
				Connections []connection `json:"connections"`
			} `json:"orgs"`
		}]
		w.do("GET", "/api/app-profiles/connections", nil, w.asBob, 200, "").JSON(t, &mine)
		if len(mine.Data) != 2 || mine.Data[0].ProviderID != crm || mine.Data[1].ProviderID != mail || len(mine.Data[1].Orgs) != 1 ||
			mine.Data[1].Orgs[0].OrgID != w.acme || mine.Data[1].Orgs[0].OrgName != "acme" || len(mine.Data[1].Orgs[0].Connections) != 2 {
			t.Fatalf("my connections %s", mustJSON(t, mine))
		}
		byID := map[string]connection{}
		for _, c := range mine.Data[1].Orgs[0].Connections {
			byID[c.ConnectionID] = c
		}
		if c := byID[bobMail]; c.ProfileID != bobDefault || c.ProfileName != "Default" || c.ApplicationID != w.app ||
			c.ApplicationName != "Default" || c.Status != "needs_reconnection" || byID[bobMail2].ApplicationName != "Second" {
			t.Fatalf("my connection %s", mustJSON(t, mine))
		}

		// Deleting all my connections: only this application's, only mine.
		w.do("DELETE", "/api/app-profiles/connections", nil, w.asVic, 403, "forbidden")
		res := w.do("DELETE", "/api/app-profiles/connections", nil, w.asBob, 200, "")
		if strings.TrimSpace(string(res.Body)) != `{"deleted":2}` {
			t.Fatalf("delete: %s", res.Body)
		}
		w.do("GET", "/api/app-profiles/connections", nil, w.asBob, 200, "").JSON(t, &mine)
		if len(mine.Data) != 1 || mine.Data[0].Orgs[0].Connections[0].ConnectionID != bobMail2 {
			t.Fatalf("after delete %s", mustJSON(t, mine))
		}
		if n := w.scalar(`SELECT CAST(count(*) AS TEXT) FROM user_provider_connections`); n != "4" {
			t.Fatalf("%s connections left", n)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
