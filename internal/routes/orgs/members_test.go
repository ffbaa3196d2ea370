package orgs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/tenancy"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// seedKey inserts an API key of orgID/appID created by userID and returns headers authenticating with it.
func seedKey(t *testing.T, e *apptest.Env, orgID, appID, userID string, scopes ...string) http.Header {
	t.Helper()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	raw := "ask_" + hex.EncodeToString(b)
	if scopes == nil {
		scopes = []string{}
	}
	js, _ := json.Marshal(scopes)
	_, err := e.DB.ExecContext(context.Background(), `INSERT INTO api_keys (id, org_id, application_id, name, key_hash, key_prefix, scopes, created_by, created_at)
		VALUES (?, ?, ?, 'test', ?, ?, ?, ?, ?)`, ids.UUID(), orgID, appID, auth.HashAPIKey(raw), raw[:8], string(js), userID, isotime.Now())
	if err != nil {
		t.Fatalf("seed key: %v", err)
	}
	return apptest.Headers("Authorization", "Bearer "+raw)
}

type addMemberBody struct {
	UserID  string `json:"userId"`
	Added   bool   `json:"added"`
	Invited bool   `json:"invited"`
	Email   string `json:"email"`
	Role    string `json:"role"`
	Token   string `json:"token"`
}

func TestAddMember(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		path := "/api/orgs/" + w.acme + "/members"
		cases := []struct {
			name   string
			as     string
			body   any
			status int
			code   string
			check  func(t *testing.T, b addMemberBody)
		}{
			{"existing user without SMTP is added directly", w.admin, map[string]string{"email": "Outsider@Example.test ", "role": "member"}, 201, "",
				func(t *testing.T, b addMemberBody) {
					if !b.Added || b.UserID != w.outsider || b.Role != "member" || b.Invited || b.Token != "" {
						t.Fatalf("body %+v", b)
					}
				}},
			{"already a member", w.owner, map[string]string{"email": "viewer@acme.test", "role": "admin"}, 409, "conflict", nil},
			{"the user just added is a member", w.owner, map[string]string{"email": "outsider@example.test", "role": "admin"}, 409, "conflict", nil},
			{"unknown email gets an invitation token", w.owner, map[string]string{"email": "newbie@acme.test", "role": "viewer"}, 201, "",
				func(t *testing.T, b addMemberBody) {
					if !b.Invited || b.Email != "newbie@acme.test" || b.Role != "viewer" || !tenancy.ValidInvitationToken(b.Token) || b.Added {
						t.Fatalf("body %+v", b)
					}
				}},
			{"owner role is not assignable", w.owner, map[string]string{"email": "x@acme.test", "role": "owner"}, 400, "validation_failed", nil},
			{"unknown role", w.owner, map[string]string{"email": "x@acme.test", "role": "superuser"}, 400, "validation_failed", nil},
			{"invalid email", w.owner, map[string]string{"email": "not-an-email", "role": "member"}, 400, "validation_failed", nil},
			{"missing role", w.owner, map[string]string{"email": "x@acme.test"}, 400, "validation_failed", nil},
			{"member may not add", w.member, map[string]string{"email": "y@acme.test", "role": "member"}, 403, "forbidden", nil},
			{"member of another org may not add", w.rival, map[string]string{"email": "y@acme.test", "role": "member"}, 403, "forbidden", nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "POST", Path: path, Body: tc.body, Headers: apptest.As(tc.as, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.check != nil {
					tc.check(t, decode[addMemberBody](t, res))
				}
			})
		}
		// Inviting the same email again refreshes the one pending invitation (new token, new role).
		first := scalar(t, e, `SELECT token FROM org_invitations WHERE org_id = ? AND email = 'newbie@acme.test'`, w.acme)
		res := e.Do(apptest.Request{Method: "POST", Path: path, Body: map[string]string{"email": "newbie@acme.test", "role": "admin"}, Headers: apptest.As(w.owner, "", "")})
		expect(t, res, 201, "")
		b := decode[addMemberBody](t, res)
		if n := count(t, e, `SELECT COUNT(*) FROM org_invitations WHERE org_id = ? AND email = 'newbie@acme.test'`, w.acme); n != 1 {
			t.Fatalf("invitations: %d", n)
		}
		if b.Token == first || scalar(t, e, `SELECT role FROM org_invitations WHERE token = ?`, b.Token) != "admin" {
			t.Fatalf("invitation not refreshed: %+v", b)
		}
		// The same email may be invited by another organization independently.
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.other + "/members", Body: map[string]string{"email": "newbie@acme.test", "role": "member"}, Headers: apptest.As(w.rival, "", "")})
		expect(t, res, 201, "")
		if decode[addMemberBody](t, res).Token == b.Token {
			t.Fatal("token shared between organizations")
		}
		if n := count(t, e, `SELECT COUNT(*) FROM audit_events WHERE org_id = ? AND action IN ('member.added', 'invitation.created')`, w.acme); n != 3 {
			t.Fatalf("audit events: %d", n)
		}
	})
}

func TestAddMemberWithMail(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		type sent struct{ email, token, inviter, org string }
		var mails []sent
		e.App.Orgs.MailEnabled = true
		e.App.Orgs.SendInvitation = func(_ context.Context, inv tenancy.Invitation, inviter, org string) error {
			mails = append(mails, sent{inv.Email, inv.Token, inviter, org})
			return nil
		}
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.acme + "/members",
			Body: map[string]string{"email": "outsider@example.test", "role": "member"}, Headers: apptest.As(w.owner, "", "")})
		expect(t, res, 201, "")
		b := decode[addMemberBody](t, res)
		if !b.Invited || b.Email != "outsider@example.test" || b.Token != "" || b.Added {
			t.Fatalf("existing user with mail: %s", res.Body)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM org_members WHERE org_id = ? AND user_id = ?`, w.acme, w.outsider); n != 0 {
			t.Fatal("added directly although mail is on")
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.acme + "/members",
			Body: map[string]string{"email": "fresh@example.test", "role": "viewer"}, Headers: apptest.As(w.owner, "", "")})
		expect(t, res, 201, "")
		if b := decode[addMemberBody](t, res); !tenancy.ValidInvitationToken(b.Token) {
			t.Fatalf("new user: %s", res.Body)
		}
		if len(mails) != 2 || mails[0].email != "outsider@example.test" || mails[0].org != "acme" || mails[0].inviter != "owner" ||
			!tenancy.ValidInvitationToken(mails[0].token) || mails[1].email != "fresh@example.test" {
			t.Fatalf("mails %+v", mails)
		}
	})
}

func TestChangeMemberRole(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		member := func(id string) string { return "/api/orgs/" + w.acme + "/members/" + id }
		cases := []struct {
			name   string
			as     string
			path   string
			role   string
			status int
			code   string
		}{
			{"owner promotes a member", w.owner, member(w.member), "admin", 200, ""},
			{"owner demotes an admin", w.owner, member(w.admin), "viewer", 200, ""},
			{"owner cannot change their own role", w.owner, member(w.owner), "admin", 403, "forbidden"},
			{"owner role cannot be granted", w.owner, member(w.viewer), "owner", 400, "validation_failed"},
			{"not a member", w.owner, member(w.outsider), "member", 404, "not_found"},
			{"member of another org", w.owner, member(w.rival), "member", 404, "not_found"},
			{"admin may not change roles", w.admin, member(w.viewer), "member", 403, "forbidden"},
			{"the owner's role is out of reach", w.rival, member(w.owner), "member", 403, "forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "PUT", Path: tc.path, Body: map[string]string{"role": tc.role}, Headers: apptest.As(tc.as, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.status == 200 {
					var b struct{ UserID, Role string }
					res.JSON(t, &b)
					if b.Role != tc.role || tc.path != member(b.UserID) {
						t.Fatalf("body %s", res.Body)
					}
				}
			})
		}
		if r := scalar(t, e, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, w.acme, w.member); r != "admin" {
			t.Fatalf("member role %s", r)
		}
		if r := scalar(t, e, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, w.acme, w.owner); r != "owner" {
			t.Fatalf("owner role %s", r)
		}
	})
}

func TestRemoveMember(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		extra := e.SeedUser("extra@acme.test")
		e.SeedMember(w.acme, extra, "member")
		member := func(id string) string { return "/api/orgs/" + w.acme + "/members/" + id }
		cases := []struct {
			name   string
			as     string
			target string
			status int
			code   string
		}{
			{"member cannot remove others", w.member, w.viewer, 403, "forbidden"},
			{"viewer cannot remove others", w.viewer, w.member, 403, "forbidden"},
			{"admin cannot remove the owner", w.admin, w.owner, 403, "forbidden"},
			{"owner cannot leave", w.owner, w.owner, 403, "forbidden"},
			{"outsider cannot remove", w.outsider, w.member, 403, "forbidden"},
			{"other org's owner cannot remove", w.rival, w.member, 403, "forbidden"},
			{"unknown member", w.owner, w.outsider, 404, "not_found"},
			{"admin removes a member", w.admin, extra, 200, ""},
			{"viewer leaves", w.viewer, w.viewer, 200, ""},
			{"removed twice", w.owner, extra, 404, "not_found"},
			{"owner removes an admin", w.owner, w.admin, 200, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: "DELETE", Path: member(tc.target), Headers: apptest.As(tc.as, "", "")})
				expect(t, res, tc.status, tc.code)
			})
		}
		if n := count(t, e, `SELECT COUNT(*) FROM org_members WHERE org_id = ?`, w.acme); n != 2 { // owner + member
			t.Fatalf("members left: %d", n)
		}
		if n := count(t, e, `SELECT COUNT(*) FROM org_members WHERE org_id = ?`, w.other); n != 2 {
			t.Fatalf("other org members: %d", n)
		}
	})
}

func TestInvitationAdmin(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		invite := func(email string) string {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/orgs/" + w.acme + "/members", Body: map[string]string{"email": email, "role": "member"}, Headers: apptest.As(w.owner, "", "")})
			expect(t, res, 201, "")
			return scalar(t, e, `SELECT id FROM org_invitations WHERE token = ?`, decode[addMemberBody](t, res).Token)
		}
		a, b := invite("a@acme.test"), invite("b@acme.test")
		expired := invite("c@acme.test")
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE org_invitations SET expires_at = ? WHERE id = ?`, isotime.From(isotime.Now().Add(-1e9)), expired); err != nil {
			t.Fatal(err)
		}
		inv := func(id string) string { return "/api/orgs/" + w.acme + "/invitations/" + id }
		cases := []struct {
			name         string
			method, path string
			as           string
			body         any
			status       int
			code         string
		}{
			{"owner changes the role", "PUT", inv(a), w.owner, map[string]string{"role": "admin"}, 200, ""},
			{"admin may not change the role", "PUT", inv(a), w.admin, map[string]string{"role": "viewer"}, 403, "forbidden"},
			{"owner role is not assignable", "PUT", inv(a), w.owner, map[string]string{"role": "owner"}, 400, "validation_failed"},
			{"unknown invitation", "PUT", inv(ids.UUID()), w.owner, map[string]string{"role": "viewer"}, 404, "not_found"},
			{"invitation of another org", "PUT", inv(w.otherInvitation), w.owner, map[string]string{"role": "viewer"}, 404, "not_found"},
			{"expired invitation", "PUT", inv(expired), w.owner, map[string]string{"role": "viewer"}, 410, "invitation_expired"},
			{"member may not cancel", "DELETE", inv(b), w.member, nil, 403, "forbidden"},
			{"admin cancels", "DELETE", inv(b), w.admin, nil, 200, ""},
			{"cancelled twice", "DELETE", inv(b), w.owner, nil, 410, "invitation_cancelled"},
			{"role of a cancelled invitation", "PUT", inv(b), w.owner, map[string]string{"role": "viewer"}, 410, "invitation_cancelled"},
			{"cancel an expired invitation", "DELETE", inv(expired), w.owner, nil, 200, ""},
			{"cancel another org's invitation", "DELETE", inv(w.otherInvitation), w.owner, nil, 404, "not_found"},
			{"other org's owner cannot cancel ours", "DELETE", inv(a), w.rival, nil, 403, "forbidden"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: tc.method, Path: tc.path, Body: tc.body, Headers: apptest.As(tc.as, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.status == 200 && tc.method == "PUT" {
					var body struct{ ID, Role string }
					res.JSON(t, &body)
					if body.ID != a || body.Role != "admin" {
						t.Fatalf("body %s", res.Body)
					}
				}
			})
		}
		got := scalar(t, e, `SELECT role FROM org_invitations WHERE id = ?`, a) + " " +
			scalar(t, e, `SELECT status FROM org_invitations WHERE id = ?`, b) + " " +
			scalar(t, e, `SELECT status FROM org_invitations WHERE id = ?`, w.otherInvitation)
		if got != "admin cancelled pending" {
			t.Fatalf("stored %s", got)
		}
	})
}

func TestOrgSettings(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		path := "/api/orgs/" + w.acme + "/settings"
		cases := []struct {
			name   string
			method string
			as     string
			body   any
			status int
			code   string
			want   string
		}{
			{"member reads", "GET", w.member, nil, 200, "", `{"apiVersion":"2026-03-21"}`},
			{"viewer reads", "GET", w.viewer, nil, 200, "", `{"apiVersion":"2026-03-21"}`},
			{"outsider may not read (upstream quirk fixed)", "GET", w.outsider, nil, 403, "forbidden", ""},
			{"member of another org may not read", "GET", w.rival, nil, 403, "forbidden", ""},
			{"admin enables dashboard SSO", "PUT", w.admin, map[string]bool{"dashboardSsoEnabled": true}, 200, "", `{"apiVersion":"2026-03-21","dashboardSsoEnabled":true}`},
			{"owner sets the version again", "PUT", w.owner, map[string]string{"apiVersion": "2026-03-21"}, 200, "", `{"apiVersion":"2026-03-21","dashboardSsoEnabled":true}`},
			{"owner disables SSO", "PUT", w.owner, map[string]bool{"dashboardSsoEnabled": false}, 200, "", `{"apiVersion":"2026-03-21","dashboardSsoEnabled":false}`},
			{"unsupported version", "PUT", w.owner, map[string]string{"apiVersion": "2020-01-01"}, 400, "unsupported_api_version", ""},
			{"malformed version", "PUT", w.owner, map[string]string{"apiVersion": "latest"}, 400, "invalid_api_version", ""},
			{"unknown key", "PUT", w.owner, map[string]string{"theme": "dark"}, 400, "validation_failed", ""},
			{"member may not update", "PUT", w.member, map[string]bool{"dashboardSsoEnabled": true}, 403, "forbidden", ""},
			{"state after the refusals", "GET", w.owner, nil, 200, "", `{"apiVersion":"2026-03-21","dashboardSsoEnabled":false}`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: tc.method, Path: path, Body: tc.body, Headers: apptest.As(tc.as, "", "")})
				expect(t, res, tc.status, tc.code)
				if tc.want != "" {
					jsonEqual(t, res.Body, tc.want)
				}
			})
		}
	})
}

// TestOrgAPIVersion checks the pipeline reads the organization's pinned version: it is echoed on successful
// responses of requests that name no Appstrate-Version.
func TestOrgAPIVersion(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		if _, err := e.DB.ExecContext(context.Background(), `UPDATE organizations SET org_settings = ? WHERE id = ?`, `{"apiVersion":"2025-01-01"}`, w.acme); err != nil {
			t.Fatal(err)
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/applications", Headers: apptest.As(w.owner, w.acme, "")})
		expect(t, res, 200, "")
		if v := res.Header.Get("Appstrate-Version"); v != "2025-01-01" {
			t.Fatalf("Appstrate-Version %q", v)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/applications", Headers: apptest.As(w.rival, w.other, "")})
		if v := res.Header.Get("Appstrate-Version"); v != "2026-03-21" {
			t.Fatalf("other org Appstrate-Version %q", v)
		}
	})
}

func TestOrgsWithAPIKey(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := seedWorld(t, e)
		key := seedKey(t, e, w.acme, w.acmeApp, w.admin, "agents:read")
		eu := ids.New(ids.EndUser)
		now := isotime.Now()
		if _, err := e.DB.ExecContext(context.Background(), `INSERT INTO end_users (id, application_id, org_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			eu, w.acmeApp, w.acme, now, now); err != nil {
			t.Fatal(err)
		}
		impersonating := key.Clone()
		impersonating.Set("Appstrate-User", eu)
		acme, other := "/api/orgs/"+w.acme, "/api/orgs/"+w.other
		cases := []struct {
			name         string
			method, path string
			headers      http.Header
			body         any
			status       int
			code         string
			role         string // for lists: the single org's role
		}{
			{"list: only its org with the creator's role", "GET", "/api/orgs", key, nil, 200, "", "admin"},
			{"me/orgs: same", "GET", "/api/me/orgs", key, nil, 200, "", "admin"},
			{"me/orgs impersonating: end_user", "GET", "/api/me/orgs", impersonating, nil, 200, "", "end_user"},
			{"orgs impersonating keeps the role", "GET", "/api/orgs", impersonating, nil, 200, "", "admin"},
			{"create org refused", "POST", "/api/orgs", key, map[string]string{"name": "Keyed"}, 403, "forbidden", ""},
			{"read its org", "GET", acme, key, nil, 200, "", ""},
			{"read its settings", "GET", acme + "/settings", key, nil, 200, "", ""},
			{"another org", "GET", other, key, nil, 403, "forbidden", ""},
			{"another org's settings", "GET", other + "/settings", key, nil, 403, "forbidden", ""},
			{"another org's members", "POST", other + "/members", key, map[string]string{"email": "k@x.test", "role": "member"}, 403, "forbidden", ""},
			{"no org mutation for keys", "PUT", acme, key, map[string]string{"name": "Keyed"}, 403, "forbidden", ""},
			{"no member management for keys", "POST", acme + "/members", key, map[string]string{"email": "k@x.test", "role": "member"}, 403, "forbidden", ""},
			{"no settings update for keys", "PUT", acme + "/settings", key, map[string]bool{"dashboardSsoEnabled": true}, 403, "forbidden", ""},
			{"no org deletion for keys", "DELETE", acme, key, nil, 403, "forbidden", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: tc.method, Path: tc.path, Body: tc.body, Headers: tc.headers})
				expect(t, res, tc.status, tc.code)
				if tc.role != "" {
					l := decode[orgList](t, res)
					if len(l.Data) != 1 || l.Data[0].ID != w.acme || l.Data[0].Role != tc.role {
						t.Fatalf("list %s", res.Body)
					}
				}
			})
		}
		if n := count(t, e, `SELECT COUNT(*) FROM organizations`); n != 2 {
			t.Fatalf("organizations: %d", n)
		}
	})
}

// jsonEqual compares JSON documents semantically (Postgres jsonb reorders keys).
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("decode want: %v", err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("got %s, want %s", gb, wb)
	}
}
