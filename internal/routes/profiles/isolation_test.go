package profiles_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

// TestProfileIsolation: profiles, bindings, overrides and connections of one user, end-user, application or
// organization are invisible and untouchable from the others.
func TestProfileIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		adaDefault, bobDefault, eveDefault := w.defaultProfile(w.asAda), w.defaultProfile(w.asBob), w.defaultProfile(w.asEve)
		euDefault := w.defaultProfile(w.asEU)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		shared2 := w.create("/api/app-profiles", "Shared 2", w.asAdaK2)
		rivalShared := w.create("/api/app-profiles", "Rival", w.asEve)
		w.connect(adaDefault, mail, w.app, false)
		w.connect(bobDefault, mail, w.app2, false)
		w.connect(euDefault, mail, w.app, false)
		w.do("POST", "/api/app-profiles/"+shared2+"/bind", map[string]any{"providerId": mail}, apptest.As(w.bob, w.acme, w.app2), 200, "")

		rename := map[string]any{"name": "pwned"}
		bindTo := func(source string) map[string]any {
			return map[string]any{"providerId": mail, "sourceProfileId": source}
		}
		override := func(profile string) map[string]any {
			return map[string]any{"providerId": mail, "connectionProfileId": profile}
		}
		asEveInAcmeApp := apptest.As(w.eve, w.rival, w.app)
		tests := []struct {
			name, method, path string
			body               any
			h                  http.Header
			status             int
		}{
			// Users.
			{"rename another member's profile", "PUT", "/api/connection-profiles/" + bobDefault, rename, w.asAda, 404},
			{"delete another organization's user's profile", "DELETE", "/api/connection-profiles/" + eveDefault, nil, w.asAda, 404},
			{"bind to another user's connection", "POST", "/api/app-profiles/" + shared + "/bind", bindTo(adaDefault), w.asBob, 404},
			{"bind to a connection of another application", "POST", "/api/app-profiles/" + shared + "/bind", bindTo(bobDefault), w.asBob, 400},
			{"override with another member's profile", "PUT", "/api/agents/@acme/writer/provider-profiles", override(bobDefault), w.asAda, 404},
			{"readiness on another member's profile", "GET", "/api/agents/@acme/writer/readiness?connectionProfileId=" + bobDefault, nil, w.asAda, 404},
			// End-users.
			{"end-user renames a user's profile", "PUT", "/api/connection-profiles/" + adaDefault, rename, w.asEU, 404},
			{"user deletes an end-user's profile", "DELETE", "/api/connection-profiles/" + euDefault, nil, w.asAda, 404},
			{"end-user overrides with a user's profile", "PUT", "/api/agents/@acme/writer/provider-profiles", override(adaDefault), w.asEU, 404},
			{"end-user readiness on a user's profile", "GET", "/api/agents/@acme/writer/readiness?connectionProfileId=" + adaDefault, nil, w.asEU, 404},
			{"user readiness on an end-user's profile", "GET", "/api/agents/@acme/writer/readiness?connectionProfileId=" + euDefault, nil, w.asAda, 404},
			{"an end-user's connections through app-profiles", "GET", "/api/app-profiles/" + euDefault + "/connections", nil, w.asAda, 404},
			// Applications.
			{"another application's app profile: rename", "PUT", "/api/app-profiles/" + shared2, rename, w.asAda, 404},
			{"another application's app profile: delete", "DELETE", "/api/app-profiles/" + shared2, nil, w.asAda, 404},
			{"another application's app profile: bindings", "GET", "/api/app-profiles/" + shared2 + "/bindings", nil, w.asAda, 404},
			{"another application's app profile: agents", "GET", "/api/app-profiles/" + shared2 + "/agents", nil, w.asAda, 404},
			{"another application's app profile: connections", "GET", "/api/app-profiles/" + shared2 + "/connections", nil, w.asAda, 404},
			{"another application's app profile: bind", "POST", "/api/app-profiles/" + shared2 + "/bind", bindTo(adaDefault), w.asAda, 404},
			{"another application's app profile: unbind", "DELETE", "/api/app-profiles/" + shared2 + "/bind/@acme/mail", nil, w.asAda, 404},
			{"another application's app profile: override", "PUT", "/api/agents/@acme/writer/provider-profiles", override(shared2), w.asAda, 404},
			{"another application's app profile: readiness", "GET", "/api/agents/@acme/writer/readiness?connectionProfileId=" + shared2, nil, w.asAda, 404},
			{"another application's app profile: agent setting", "PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": shared2}, w.asAda, 404},
			{"API key of app on app2", "GET", "/api/app-profiles", nil, w.key("X-Application-Id", w.app2), 403},
			// Organizations.
			{"another organization's app profile", "GET", "/api/app-profiles/" + rivalShared + "/bindings", nil, w.asAda, 404},
			{"another organization's app profile: rename", "PUT", "/api/app-profiles/" + rivalShared, rename, w.asAda, 404},
			{"an application of another organization", "GET", "/api/app-profiles", nil, asEveInAcmeApp, 404},
			{"another organization's member's connections", "GET", "/api/app-profiles/" + eveDefault + "/connections", nil, w.asAda, 404},
			{"an agent of another organization", "PUT", "/api/agents/@acme/writer/provider-profiles", override(eveDefault), w.asEve, 404},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { w.do(tc.method, tc.path, tc.body, tc.h, tc.status, "") })
		}

		// Lists show only the caller's own.
		listed := func(path string, h http.Header) string {
			return string(w.do("GET", path, nil, h, 200, "").Body)
		}
		for _, c := range []struct {
			path, who string
			h         http.Header
			foreign   []string
		}{
			{"/api/connection-profiles", "ada", w.asAda, []string{bobDefault, eveDefault, euDefault, shared}},
			{"/api/connection-profiles", "the end-user", w.asEU, []string{adaDefault, bobDefault}},
			{"/api/connection-profiles", "eve", w.asEve, []string{adaDefault, euDefault}},
			{"/api/app-profiles", "ada in app", w.asAda, []string{shared2, rivalShared}},
			{"/api/app-profiles", "eve", w.asEve, []string{shared, shared2}},
			{"/api/app-profiles/my-bindings", "bob in app", w.asBob, []string{shared2}},
			{"/api/app-profiles/connections", "ada", w.asAda, []string{bobDefault, euDefault}},
		} {
			if body := listed(c.path, c.h); containsAny(body, c.foreign) {
				t.Errorf("%s lists a foreign profile for %s: %s", c.path, c.who, body)
			}
		}
	})
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
