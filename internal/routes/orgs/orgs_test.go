package orgs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// world is the fixture most tests share: organization acme with one user per role, and a foreign
// organization (other) with its own owner, member and pending invitation.
type world struct {
	owner, admin, member, viewer, outsider string // users of acme (outsider: no membership anywhere)
	acme, acmeApp                          string
	rival, rivalMember                     string // users of other
	other, otherApp                        string
	otherInvitation                        string
}

func seedWorld(t *testing.T, e *apptest.Env) world {
	t.Helper()
	var w world
	w.owner = e.SeedUser("owner@acme.test")
	w.admin = e.SeedUser("admin@acme.test")
	w.member = e.SeedUser("member@acme.test")
	w.viewer = e.SeedUser("viewer@acme.test")
	w.outsider = e.SeedUser("outsider@example.test")
	w.acme, w.acmeApp = e.SeedOrg(w.owner, "acme")
	e.SeedMember(w.acme, w.admin, "admin")
	e.SeedMember(w.acme, w.member, "member")
	e.SeedMember(w.acme, w.viewer, "viewer")
	w.rival = e.SeedUser("rival@other.test")
	w.rivalMember = e.SeedUser("member@other.test")
	w.other, w.otherApp = e.SeedOrg(w.rival, "other")
	e.SeedMember(w.other, w.rivalMember, "member")
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.other + "/members",
		Body: map[string]string{"email": "newcomer@other.test", "role": "member"}, Headers: apptest.As(w.rival, "", "")})
	if res.Status != 201 {
		t.Fatalf("seed invitation: %d %s", res.Status, res.Body)
	}
	w.otherInvitation = scalar(t, e, `SELECT id FROM org_invitations WHERE org_id = ?`, w.other)
	return w
}

func scalar(t *testing.T, e *apptest.Env, query string, args ...any) string {
	t.Helper()
	var v string
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func count(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func decode[T any](t *testing.T, res *apptest.Response) T {
	t.Helper()
	var v T
	res.JSON(t, &v)
	return v
}

// expect checks status and, for errors, the problem code.
func expect(t *testing.T, res *apptest.Response, status int, code string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if code != "" {
		if p := res.Problem(t); p.Code != code {
			t.Fatalf("code %q, want %q: %s", p.Code, code, res.Body)
		}
	}
}

type orgItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Slug      string `json:"slug"`
	Role      string `json:"role"`
	CreatedAt string `json:"createdAt"`
}

type orgList struct {
	Object  string    `json:"object"`
	Data    []orgItem `json:"data"`
	HasMore bool      `json:"hasMore"`
}

var timestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestListOrgs(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		second, _ := e.SeedOrg(w.rival, "second")
		e.SeedMember(second, w.viewer, "admin")
		cases := []struct {
			name string
			user string
			want map[string]string // org id → role
		}{
			{"owner sees acme", w.owner, map[string]string{w.acme: "owner"}},
			{"viewer sees both memberships with their roles", w.viewer, map[string]string{w.acme: "viewer", second: "admin"}},
			{"rival never sees acme", w.rival, map[string]string{w.other: "owner", second: "owner"}},
			{"outsider sees nothing", w.outsider, map[string]string{}},
		}
		for _, path := range []string{"/api/orgs", "/api/me/orgs"} {
			for _, tc := range cases {
				t.Run(path+"/"+tc.name, func(t *testing.T) {
					res := e.Do(apptest.Request{Method: "GET", Path: path, Headers: apptest.As(tc.user, "", "")})
					expect(t, res, 200, "")
					l := decode[orgList](t, res)
					if l.Object != "list" || l.HasMore || l.Data == nil {
						t.Fatalf("envelope: %s", res.Body)
					}
					got := map[string]string{}
					for _, o := range l.Data {
						got[o.ID] = o.Role
						if !timestamp.MatchString(o.CreatedAt) || o.Slug == "" || o.Name == "" {
							t.Fatalf("item shape: %+v", o)
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(tc.want) {
						t.Fatalf("orgs %v, want %v", got, tc.want)
					}
				})
			}
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/orgs"})
		expect(t, res, 401, "unauthorized")
	})
}

func TestCreateOrg(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		user := e.SeedUser("founder@example.test")
		other := e.SeedUser("other@example.test")
		e.SeedOrg(other, "taken")
		cases := []struct {
			name     string
			body     any
			status   int
			code     string
			wantSlug string
		}{
			{"slug derived from the name", map[string]string{"name": "Café Crème & Co"}, 201, "", "cafe-creme-co"},
			{"explicit slug", map[string]string{"name": "Acme", "slug": "acme-1"}, 201, "", "acme-1"},
			{"name without letters gets org", map[string]string{"name": "!!!"}, 201, "", "org"},
			{"explicit slug taken", map[string]string{"name": "Acme", "slug": "taken"}, 400, "slug_taken", ""},
			{"derived slug taken", map[string]string{"name": "Taken"}, 400, "slug_taken", ""},
			{"slug with uppercase", map[string]string{"name": "Acme", "slug": "Acme"}, 400, "validation_failed", ""},
			{"slug with leading dash", map[string]string{"name": "Acme", "slug": "-acme"}, 400, "validation_failed", ""},
			{"slug with trailing dash", map[string]string{"name": "Acme", "slug": "acme-"}, 400, "validation_failed", ""},
			{"empty name", map[string]string{"name": ""}, 400, "validation_failed", ""},
			{"blank name", map[string]string{"name": "   "}, 400, "validation_failed", ""},
			{"missing name", map[string]string{}, 400, "validation_failed", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: tc.body, Headers: apptest.As(user, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.status != 201 {
					return
				}
				o := decode[orgItem](t, res)
				if o.Slug != tc.wantSlug || o.Role != "owner" || !ids.ValidUUID(o.ID) || !timestamp.MatchString(o.CreatedAt) {
					t.Fatalf("created %+v", o)
				}
				// Side effects: owner membership, settings, default application, audit event.
				if role := scalar(t, e, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, o.ID, user); role != "owner" {
					t.Fatalf("membership role %q", role)
				}
				var settings map[string]any
				if err := json.Unmarshal([]byte(scalar(t, e, `SELECT org_settings FROM organizations WHERE id = ?`, o.ID)), &settings); err != nil ||
					fmt.Sprint(settings) != "map[apiVersion:2026-03-21]" {
					t.Fatalf("settings %v %v", settings, err)
				}
				if n := count(t, e, `SELECT COUNT(*) FROM applications WHERE org_id = ? AND is_default = ? AND name = 'Default'`, o.ID, true); n != 1 {
					t.Fatalf("default applications: %d", n)
				}
				if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND action = 'org.created' AND actor_id = ?`, o.ID, user); n != 1 {
					t.Fatalf("audit events: %d", n)
				}
			})
		}
	})
}

func TestCreateOrgDisabled(t *testing.T) {
	env := map[string]string{"AUTH_DISABLE_ORG_CREATION": "true", "AUTH_PLATFORM_ADMIN_EMAILS": "boss@example.test"}
	apptest.Run(t, env, func(t *testing.T, e *apptest.Env) {
		user := e.SeedUser("user@example.test")
		boss := e.SeedUser("Boss@Example.test")
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Nope"}, Headers: apptest.As(user, "", "")})
		expect(t, res, 403, "forbidden")
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Yes"}, Headers: apptest.As(boss, "", "")})
		expect(t, res, 201, "")
	})
}

func TestCreateOrgHooks(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		user := e.SeedUser("founder@example.test")
		var got []string
		e.App.Orgs.OnOrgCreated = append(e.App.Orgs.OnOrgCreated,
			func(ctx context.Context, tx store.Querier, orgID, appID, userID string) error {
				// The hook sees the rows of the transaction.
				var isDefault bool
				if err := tx.QueryRowContext(ctx, `SELECT is_default FROM applications WHERE id = ? AND org_id = ?`, appID, orgID).Scan(&isDefault); err != nil || !isDefault {
					return fmt.Errorf("default app not visible: %v", err)
				}
				got = append(got, orgID, userID)
				return nil
			})
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Hooked"}, Headers: apptest.As(user, "", "")})
		expect(t, res, 201, "")
		if o := decode[orgItem](t, res); len(got) != 2 || got[0] != o.ID || got[1] != user {
			t.Fatalf("hook args %v for %s", got, o.ID)
		}

		// A failing hook rolls the whole creation back.
		e.App.Orgs.OnOrgCreated = append(e.App.Orgs.OnOrgCreated,
			func(context.Context, store.Querier, string, string, string) error { return errors.New("boom") })
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Broken"}, Headers: apptest.As(user, "", "")})
		expect(t, res, 500, "internal_error")
		if n := count(t, e, `SELECT COUNT(*) FROM organizations WHERE slug = 'broken'`); n != 0 {
			t.Fatalf("organization kept after a failing hook")
		}
	})
}

type orgDetail struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Role    string `json:"role"`
	Members []struct {
		UserID   string `json:"userId"`
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		JoinedAt string `json:"joinedAt"`
	} `json:"members"`
	Invitations []struct {
		ID        string  `json:"id"`
		Email     string  `json:"email"`
		Role      string  `json:"role"`
		Status    string  `json:"status"`
		ExpiresAt string  `json:"expiresAt"`
		CreatedAt string  `json:"createdAt"`
		InvitedBy *string `json:"invitedBy"`
	} `json:"invitations"`
}

func TestGetOrg(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.acme + "/members",
			Body: map[string]string{"email": "new@acme.test", "role": "viewer"}, Headers: apptest.As(w.admin, "", "")})
		expect(t, res, 201, "")
		// An expired and a cancelled invitation are not listed.
		now := isotime.Now()
		for i, status := range []string{"pending", "cancelled"} {
			exp := isotime.From(now.Add(-time.Hour))
			if status == "cancelled" {
				exp = isotime.From(now.Add(time.Hour))
			}
			if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO org_invitations (id, token, email, org_id, role, status, expires_at, created_at)
				VALUES (?, ?, ?, ?, 'member', ?, ?, ?)`, ids.UUID(), fmt.Sprintf("%064d", i), fmt.Sprintf("old%d@acme.test", i), w.acme, status, exp, now); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			user, role string
		}{{w.owner, "owner"}, {w.admin, "admin"}, {w.member, "member"}, {w.viewer, "viewer"}} {
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/orgs/" + w.acme, Headers: apptest.As(tc.user, "", "")})
			expect(t, res, 200, "")
			d := decode[orgDetail](t, res)
			if d.ID != w.acme || d.Slug != "acme" || d.Role != tc.role || len(d.Members) != 4 {
				t.Fatalf("detail as %s: %s", tc.role, res.Body)
			}
			for _, m := range d.Members {
				if m.UserID == w.rival || m.UserID == "" || m.Email == "" || !timestamp.MatchString(m.JoinedAt) {
					t.Fatalf("member %+v", m)
				}
			}
			if len(d.Invitations) != 1 || d.Invitations[0].Email != "new@acme.test" || d.Invitations[0].Status != "pending" ||
				d.Invitations[0].Role != "viewer" || d.Invitations[0].InvitedBy == nil || *d.Invitations[0].InvitedBy != w.admin {
				t.Fatalf("invitations: %s", res.Body)
			}
		}
		for name, tc := range map[string]struct {
			user, org string
			status    int
		}{
			"outsider":              {w.outsider, w.acme, 403},
			"member of another org": {w.rival, w.acme, 403},
			"unknown org":           {w.owner, ids.UUID(), 403},
		} {
			t.Run(name, func(t *testing.T) {
				expect(t, e.Do(apptest.Request{Method: "GET", Path: "/api/orgs/" + tc.org, Headers: apptest.As(tc.user, "", "")}), tc.status, "forbidden")
			})
		}
	})
}

// TestRoleChecks runs every mutating /api/orgs route as each role that must be refused; nothing changes.
func TestRoleChecks(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		inv := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.acme + "/members",
			Body: map[string]string{"email": "pending@acme.test", "role": "member"}, Headers: apptest.As(w.owner, "", "")})
		expect(t, inv, 201, "")
		invID := scalar(t, e, `SELECT id FROM org_invitations WHERE org_id = ? AND email = 'pending@acme.test'`, w.acme)
		org := "/api/orgs/" + w.acme
		type route struct {
			method, path string
			body         any
		}
		routes := map[string]route{
			"update org":        {"PUT", org, map[string]string{"name": "Renamed"}},
			"delete org":        {"DELETE", org, nil},
			"add member":        {"POST", org + "/members", map[string]string{"email": "x@acme.test", "role": "member"}},
			"change role":       {"PUT", org + "/members/" + w.viewer, map[string]string{"role": "member"}},
			"remove member":     {"DELETE", org + "/members/" + w.viewer, nil},
			"change invitation": {"PUT", org + "/invitations/" + invID, map[string]string{"role": "admin"}},
			"cancel invitation": {"DELETE", org + "/invitations/" + invID, nil},
			"update settings":   {"PUT", org + "/settings", map[string]bool{"dashboardSsoEnabled": true}},
		}
		refused := map[string][]string{ // route → users that must get 403
			"update org":        {w.admin, w.member, w.viewer, w.outsider, w.rival},
			"delete org":        {w.admin, w.member, w.viewer, w.outsider, w.rival},
			"add member":        {w.member, w.viewer, w.outsider, w.rival},
			"change role":       {w.admin, w.member, w.outsider, w.rival},
			"remove member":     {w.member, w.outsider, w.rival},
			"change invitation": {w.admin, w.member, w.viewer, w.outsider, w.rival},
			"cancel invitation": {w.member, w.viewer, w.outsider, w.rival},
			"update settings":   {w.member, w.viewer, w.outsider, w.rival},
		}
		names := map[string]string{w.admin: "admin", w.member: "member", w.viewer: "viewer", w.outsider: "outsider", w.rival: "rival"}
		for name, r := range routes {
			for _, user := range refused[name] {
				t.Run(name+"/"+names[user], func(t *testing.T) {
					res := e.Do(apptest.Request{Method: r.method, Path: r.path, Body: r.body, Headers: apptest.As(user, "", "")})
					expect(t, res, 403, "forbidden")
				})
			}
		}
		// Nothing changed.
		if n := count(t, e, `SELECT COUNT(*) FROM org_members WHERE org_id = ?`, w.acme); n != 4 {
			t.Fatalf("members: %d", n)
		}
		if s := scalar(t, e, `SELECT status FROM org_invitations WHERE id = ?`, invID); s != "pending" {
			t.Fatalf("invitation %s", s)
		}
		if s := scalar(t, e, `SELECT name FROM organizations WHERE id = ?`, w.acme); s != "acme" {
			t.Fatalf("org name %s", s)
		}
	})
}

func TestUpdateOrg(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		path := "/api/orgs/" + w.acme
		cases := []struct {
			name   string
			body   any
			status int
			code   string
			want   string // name/slug after
		}{
			{"rename", map[string]string{"name": "Acme Inc"}, 200, "", "Acme Inc/acme"},
			{"change slug", map[string]string{"slug": "acme-inc"}, 200, "", "Acme Inc/acme-inc"},
			{"same slug again", map[string]string{"slug": "acme-inc"}, 200, "", "Acme Inc/acme-inc"},
			{"slug of another org", map[string]string{"slug": "other"}, 400, "slug_taken", "Acme Inc/acme-inc"},
			{"invalid slug", map[string]string{"slug": "Not A Slug"}, 400, "validation_failed", "Acme Inc/acme-inc"},
			{"blank name", map[string]string{"name": " "}, 400, "validation_failed", "Acme Inc/acme-inc"},
			{"empty body changes nothing", map[string]string{}, 200, "", "Acme Inc/acme-inc"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "PUT", Path: path, Body: tc.body, Headers: apptest.As(w.owner, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.status == 200 {
					if o := decode[orgItem](t, res); o.Name+"/"+o.Slug != tc.want || o.Role != "owner" || o.ID != w.acme {
						t.Fatalf("response %s", res.Body)
					}
				}
				if got := scalar(t, e, `SELECT name FROM organizations WHERE id = ?`, w.acme) + "/" +
					scalar(t, e, `SELECT slug FROM organizations WHERE id = ?`, w.acme); got != tc.want {
					t.Fatalf("stored %s, want %s", got, tc.want)
				}
			})
		}
		if s := scalar(t, e, `SELECT slug FROM organizations WHERE id = ?`, w.other); s != "other" {
			t.Fatalf("other org touched: %s", s)
		}
	})
}

// seedOwned inserts rows an organization owns, in each of its applications.
func seedOwned(t *testing.T, e *apptest.Env, orgID, appID, userID, tag string) {
	t.Helper()
	ctx, now := context.Background(), isotime.Now()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("seed %s: %v", q, err)
		}
	}
	eu := ids.New(ids.EndUser)
	exec(`INSERT INTO end_users (id, application_id, org_id, external_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		eu, appID, orgID, "ext-"+tag, now, now)
	exec(`INSERT INTO connection_profiles (id, end_user_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'Default', ?, ?, ?)`,
		ids.UUID(), eu, true, now, now)
	exec(`INSERT INTO connection_profiles (id, application_id, name, is_default, created_at, updated_at) VALUES (?, ?, 'App', ?, ?, ?)`,
		ids.UUID(), appID, false, now, now)
	exec(`INSERT INTO api_keys (id, org_id, application_id, name, key_hash, key_prefix, scopes, created_by, created_at)
		VALUES (?, ?, ?, 'k', ?, 'ask_0000', '[]', ?, ?)`, ids.UUID(), orgID, appID, "hash-"+tag, userID, now)
	exec(`INSERT INTO org_invitations (id, token, email, org_id, role, status, expires_at, created_at) VALUES (?, ?, ?, ?, 'member', 'pending', ?, ?)`,
		ids.UUID(), fmt.Sprintf("%064s", tag), tag+"@invite.test", orgID, isotime.From(now.Add(time.Hour)), now)
}

// ownedCounts counts, per table, the rows that belong to orgID.
func ownedCounts(t *testing.T, e *apptest.Env, orgID string) string {
	t.Helper()
	var out string
	for _, q := range []string{
		`SELECT COUNT(*) FROM organizations WHERE id = ?`,
		`SELECT COUNT(*) FROM applications WHERE org_id = ?`,
		`SELECT COUNT(*) FROM end_users WHERE org_id = ?`,
		`SELECT COUNT(*) FROM api_keys WHERE org_id = ?`,
		`SELECT COUNT(*) FROM org_members WHERE org_id = ?`,
		`SELECT COUNT(*) FROM org_invitations WHERE org_id = ?`,
		`SELECT COUNT(*) FROM connection_profiles WHERE application_id IN (SELECT id FROM applications WHERE org_id = ?)
			OR end_user_id IN (SELECT id FROM end_users WHERE org_id = ?)`,
	} {
		args := make([]any, strings.Count(q, "?"))
		for i := range args {
			args[i] = orgID
		}
		out += fmt.Sprintf("%d ", count(t, e, q, args...))
	}
	return out
}

func TestDeleteOrgCascades(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		extra := e.SeedApp(w.acme, "Second")
		seedOwned(t, e, w.acme, w.acmeApp, w.owner, "a1")
		seedOwned(t, e, w.acme, extra, w.admin, "a2")
		seedOwned(t, e, w.other, w.otherApp, w.rival, "o1")
		otherBefore := ownedCounts(t, e, w.other)

		expect(t, e.Do(apptest.Request{Method: "DELETE", Path: "/api/orgs/" + w.acme, Headers: apptest.As(w.admin, "", "")}), 403, "forbidden")
		res := e.Do(apptest.Request{Method: "DELETE", Path: "/api/orgs/" + w.acme, Headers: apptest.As(w.owner, "", "")})
		expect(t, res, 200, "")
		if strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
			t.Fatalf("body %s", res.Body)
		}
		if got := ownedCounts(t, e, w.acme); got != "0 0 0 0 0 0 0 " {
			t.Fatalf("rows left after delete: %s", got)
		}
		if got := ownedCounts(t, e, w.other); got != otherBefore {
			t.Fatalf("other org changed: %s → %s", otherBefore, got)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM users WHERE id IN (?, ?, ?)`, w.owner, w.admin, w.member); n != 3 {
			t.Fatalf("users deleted with the org: %d left", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND action = 'org.deleted'`, w.acme); n != 1 {
			t.Fatalf("audit: %d", n)
		}
		// The organization is gone for everyone.
		expect(t, e.Do(apptest.Request{Method: "GET", Path: "/api/orgs/" + w.acme, Headers: apptest.As(w.owner, "", "")}), 403, "forbidden")
		expect(t, e.Do(apptest.Request{Method: "DELETE", Path: "/api/orgs/" + w.acme, Headers: apptest.As(w.owner, "", "")}), 403, "forbidden")
	})
}

func TestCreateBootstrapOrg(t *testing.T) {
	apptest.Run(t, map[string]string{"AUTH_DISABLE_ORG_CREATION": "true"}, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		first := e.SeedUser("first@example.test")
		second := e.SeedUser("second@example.test")
		if err := e.App.Orgs.CreateBootstrapOrg(ctx, first, "Default"); err != nil {
			t.Fatal(err)
		}
		// The slug is taken: the second one gets a random suffix instead of failing.
		if err := e.App.Orgs.CreateBootstrapOrg(ctx, second, "Default"); err != nil {
			t.Fatal(err)
		}
		for user, pattern := range map[string]string{first: `^default$`, second: `^default-[0-9a-f]{6}$`} {
			orgID := scalar(t, e, `SELECT org_id FROM org_members WHERE user_id = ? AND role = 'owner'`, user)
			if slug := scalar(t, e, `SELECT slug FROM organizations WHERE id = ?`, orgID); !regexp.MustCompile(pattern).MatchString(slug) {
				t.Fatalf("slug %q", slug)
			}
			if n := count(t, e, `SELECT COUNT(*) FROM applications WHERE org_id = ? AND is_default = ?`, orgID, true); n != 1 {
				t.Fatalf("default apps %d", n)
			}
		}
	})
}
