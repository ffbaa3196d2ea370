package apptest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

// tenant is one organization with two applications, an API key, an end-user and a pending invitation.
type tenant struct {
	owner, org, app, app2, keyID, key, endUser, invitation string
}

func seedTenant(t *testing.T, e *apptest.Env, slug string) tenant {
	t.Helper()
	var tn tenant
	tn.owner = e.SeedUser("owner@" + slug + ".example")
	tn.org, tn.app = e.SeedOrg(tn.owner, slug)
	tn.app2 = e.SeedApp(tn.org, "second")
	h := apptest.As(tn.owner, tn.org, tn.app)
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "k"}, Headers: h})
	var key struct{ ID, Key string }
	res.JSON(t, &key)
	tn.keyID, tn.key = key.ID, key.Key
	res = e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"externalId": slug}, Headers: h})
	var eu struct{ ID string }
	res.JSON(t, &eu)
	tn.endUser = eu.ID
	res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + tn.org + "/members",
		Body: map[string]any{"email": "newcomer@" + slug + ".example", "role": "member"}, Headers: apptest.As(tn.owner, "", "")})
	if res.Status != 201 {
		t.Fatalf("invite: %d %s", res.Status, res.Body)
	}
	var org struct {
		Invitations []struct{ ID string } `json:"invitations"`
	}
	e.Do(apptest.Request{Method: "GET", Path: "/api/orgs/" + tn.org, Headers: apptest.As(tn.owner, "", "")}).JSON(t, &org)
	if tn.keyID == "" || tn.endUser == "" || len(org.Invitations) != 1 {
		t.Fatalf("seed %s: key %q end-user %q invitations %v", slug, tn.keyID, tn.endUser, org.Invitations)
	}
	tn.invitation = org.Invitations[0].ID
	return tn
}

// TestTenantIsolation: every identity route refuses another tenant's ids, and lists never leak rows.
func TestTenantIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		a, b := seedTenant(t, e, "alpha"), seedTenant(t, e, "beta")
		asB := func(app string) http.Header { return apptest.As(b.owner, b.org, app) }
		keyB := func(extra ...string) http.Header {
			return apptest.Headers(append([]string{"Authorization", "Bearer " + b.key}, extra...)...)
		}
		denied := []int{403, 404}
		tests := []struct {
			name    string
			method  string
			path    string
			body    any
			headers http.Header
			want    []int
		}{
			{"org detail", "GET", "/api/orgs/" + a.org, nil, asB(""), denied},
			{"org rename", "PUT", "/api/orgs/" + a.org, map[string]any{"name": "pwned"}, asB(""), denied},
			{"org delete", "DELETE", "/api/orgs/" + a.org, nil, asB(""), denied},
			{"org settings", "GET", "/api/orgs/" + a.org + "/settings", nil, asB(""), denied},
			{"org settings update", "PUT", "/api/orgs/" + a.org + "/settings", map[string]any{"apiVersion": "2026-03-21"}, asB(""), denied},
			{"add member", "POST", "/api/orgs/" + a.org + "/members", map[string]any{"email": "x@y.example", "role": "admin"}, asB(""), denied},
			{"change member role", "PUT", "/api/orgs/" + a.org + "/members/" + a.owner, map[string]any{"role": "viewer"}, asB(""), denied},
			{"remove member", "DELETE", "/api/orgs/" + a.org + "/members/" + a.owner, nil, asB(""), denied},
			{"change invitation", "PUT", "/api/orgs/" + a.org + "/invitations/" + a.invitation, map[string]any{"role": "admin"}, asB(""), denied},
			{"cancel invitation", "DELETE", "/api/orgs/" + a.org + "/invitations/" + a.invitation, nil, asB(""), denied},
			{"org header of another org", "GET", "/api/applications", nil, apptest.As(b.owner, a.org, ""), []int{403}},
			{"application detail", "GET", "/api/applications/" + a.app, nil, asB(""), []int{404}},
			{"application update", "PATCH", "/api/applications/" + a.app2, map[string]any{"name": "pwned"}, asB(""), []int{404}},
			{"application delete", "DELETE", "/api/applications/" + a.app2, nil, asB(""), []int{404}},
			{"app header of another org", "GET", "/api/end-users", nil, asB(a.app), []int{404}},
			{"end-user detail", "GET", "/api/end-users/" + a.endUser, nil, asB(b.app), []int{404}},
			{"end-user update", "PATCH", "/api/end-users/" + a.endUser, map[string]any{"name": "pwned"}, asB(b.app), []int{404}},
			{"end-user delete", "DELETE", "/api/end-users/" + a.endUser, nil, asB(b.app), []int{404}},
			{"end-user of another app in the same org", "GET", "/api/end-users/" + b.endUser, nil, asB(b.app2), []int{404}},
			{"revoke another org's key", "DELETE", "/api/api-keys/" + a.keyID, nil, asB(b.app), []int{404}},
			{"key: another org", "GET", "/api/orgs/" + a.org, nil, keyB(), denied},
			{"key: another org's application", "GET", "/api/applications/" + a.app, nil, keyB(), denied},
			{"key: another app header", "GET", "/api/end-users", nil, keyB("X-Application-Id", b.app2), []int{403}},
			{"key: foreign end-user", "GET", "/api/end-users/" + a.endUser, nil, keyB(), []int{404}},
			{"key: impersonate a foreign end-user", "GET", "/api/end-users", nil, keyB("Appstrate-User", a.endUser), []int{403}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: tt.method, Path: tt.path, Body: tt.body, Headers: tt.headers})
				if !slices.Contains(tt.want, res.Status) {
					t.Fatalf("%s %s = %d, want one of %v: %s", tt.method, tt.path, res.Status, tt.want, res.Body)
				}
				if strings.Contains(string(res.Body), "API endpoint not found") {
					t.Fatalf("%s %s is not a route: %s", tt.method, tt.path, res.Body)
				}
			})
		}

		// Lists never contain the other tenant's rows.
		lists := []struct {
			name    string
			path    string
			headers http.Header
		}{
			{"orgs", "/api/orgs", apptest.As(b.owner, "", "")},
			{"me/orgs", "/api/me/orgs", apptest.As(b.owner, "", "")},
			{"applications", "/api/applications", asB("")},
			{"end-users", "/api/end-users", asB(b.app)},
			{"api keys", "/api/api-keys", asB(b.app)},
			{"key: orgs", "/api/orgs", keyB("X-Org-Id", a.org)},
			{"key: applications", "/api/applications", keyB("X-Org-Id", a.org)},
			{"key: end-users", "/api/end-users", keyB("X-Org-Id", a.org)},
		}
		for _, l := range lists {
			res := e.Do(apptest.Request{Method: "GET", Path: l.path, Headers: l.headers})
			if res.Status != 200 {
				t.Errorf("list %s: %d %s", l.name, res.Status, res.Body)
				continue
			}
			for _, foreign := range []string{a.org, a.app, a.app2, a.endUser, a.keyID, "alpha"} {
				if strings.Contains(string(res.Body), foreign) {
					t.Errorf("list %s leaks %q: %s", l.name, foreign, res.Body)
				}
			}
		}

		// Nothing of tenant A changed.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/orgs/" + a.org, Headers: apptest.As(a.owner, "", "")})
		if res.Status != 200 || strings.Contains(string(res.Body), "pwned") || !strings.Contains(string(res.Body), a.invitation) {
			t.Fatalf("tenant A changed: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users/" + a.endUser, Headers: apptest.Headers("Authorization", "Bearer "+a.key)})
		if res.Status != 200 || strings.Contains(string(res.Body), "pwned") {
			t.Fatalf("tenant A end-user changed: %d %s", res.Status, res.Body)
		}
	})
}
