package endusers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

type endUser struct {
	ID            string          `json:"id"`
	Object        string          `json:"object"`
	ApplicationID string          `json:"applicationId"`
	Name          *string         `json:"name"`
	Email         *string         `json:"email"`
	ExternalID    *string         `json:"externalId"`
	Metadata      json.RawMessage `json:"metadata"`
	CreatedAt     string          `json:"createdAt"`
	UpdatedAt     string          `json:"updatedAt"`
}

type page struct {
	Object  string    `json:"object"`
	Data    []endUser `json:"data"`
	HasMore bool      `json:"hasMore"`
	Limit   int       `json:"limit"`
}

type fixture struct {
	e                    *apptest.Env
	owner, org, app      string
	otherApp             string
	otherOwner, otherOrg string
	otherOrgApp          string
}

func setup(e *apptest.Env) fixture {
	f := fixture{e: e}
	f.owner = e.SeedUser("owner@example.com")
	f.org, f.app = e.SeedOrg(f.owner, "acme")
	f.otherApp = e.SeedApp(f.org, "Second")
	f.otherOwner = e.SeedUser("other@example.com")
	f.otherOrg, f.otherOrgApp = e.SeedOrg(f.otherOwner, "other")
	return f
}

func (f fixture) do(method, path string, body any) *apptest.Response {
	return f.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: apptest.As(f.owner, f.org, f.app)})
}

func (f fixture) create(t *testing.T, body any) endUser {
	t.Helper()
	res := f.do("POST", "/api/end-users", body)
	if res.Status != 201 {
		t.Fatalf("create %v: %d %s", body, res.Status, res.Body)
	}
	var eu endUser
	res.JSON(t, &eu)
	return eu
}

func sameJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	return reflect.DeepEqual(a, b)
}

func TestEndUserLifecycle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(e)
		ctx := context.Background()
		eu := f.create(t, map[string]any{"name": "Ada", "email": "ada@example.com", "externalId": "u-1",
			"metadata": map[string]any{"plan": "pro", "seats": 3, "trial": false, "ref": nil}, "applicationId": f.otherApp})
		if !ids.Valid(eu.ID, ids.EndUser) || eu.Object != "end_user" || eu.ApplicationID != f.app || *eu.Name != "Ada" ||
			*eu.Email != "ada@example.com" || *eu.ExternalID != "u-1" || eu.CreatedAt != eu.UpdatedAt ||
			!sameJSON(t, eu.Metadata, `{"plan":"pro","seats":3,"trial":false,"ref":null}`) {
			t.Fatalf("created %+v (metadata %s)", eu, eu.Metadata)
		}
		if ts, err := isotime.Parse(eu.CreatedAt); err != nil || ts.String() != eu.CreatedAt {
			t.Fatalf("createdAt %q", eu.CreatedAt)
		}
		// The Default connection profile was created with it.
		var profiles int
		if err := e.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM connection_profiles WHERE end_user_id = ? AND name = 'Default' AND is_default = ?`, eu.ID, true).Scan(&profiles); err != nil || profiles != 1 {
			t.Fatalf("default profiles = %d, %v", profiles, err)
		}
		// A bare creation gives nulls.
		bare := f.create(t, map[string]any{})
		if bare.Name != nil || bare.Email != nil || bare.ExternalID != nil || string(bare.Metadata) != "null" {
			t.Fatalf("bare %+v", bare)
		}

		// Get; ids of other applications and organizations are 404.
		res := f.do("GET", "/api/end-users/"+eu.ID, nil)
		var got endUser
		if res.JSON(t, &got); res.Status != 200 || got.ID != eu.ID || !sameJSON(t, got.Metadata, string(eu.Metadata)) {
			t.Fatalf("get: %d %s", res.Status, res.Body)
		}
		for _, h := range []struct{ user, org, app string }{{f.owner, f.org, f.otherApp}, {f.otherOwner, f.otherOrg, f.otherOrgApp}} {
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users/" + eu.ID, Headers: apptest.As(h.user, h.org, h.app)})
			if p := res.Problem(t); res.Status != 404 || p.Code != "not_found" {
				t.Fatalf("foreign get: %d %s", res.Status, res.Body)
			}
		}
		for _, id := range []string{"nope", "eu_" + strings.Repeat("0", 8), ids.New(ids.EndUser)} {
			if res := f.do("GET", "/api/end-users/"+id, nil); res.Status != 404 {
				t.Fatalf("get %s: %d", id, res.Status)
			}
		}

		// Patch is partial; null clears; metadata is replaced as a whole.
		res = f.do("PATCH", "/api/end-users/"+eu.ID, map[string]any{"name": "Ada L.", "externalId": nil, "metadata": map[string]any{"plan": "team"}})
		if res.JSON(t, &got); res.Status != 200 || *got.Name != "Ada L." || got.ExternalID != nil || *got.Email != "ada@example.com" ||
			!sameJSON(t, got.Metadata, `{"plan":"team"}`) || got.CreatedAt != eu.CreatedAt {
			t.Fatalf("patch: %d %s", res.Status, res.Body)
		}
		res = f.do("PATCH", "/api/end-users/"+eu.ID, map[string]any{})
		if res.JSON(t, &got); res.Status != 200 || *got.Name != "Ada L." || !sameJSON(t, got.Metadata, `{"plan":"team"}`) {
			t.Fatalf("empty patch: %d %s", res.Status, res.Body)
		}
		res = f.do("PATCH", "/api/end-users/"+eu.ID, map[string]any{"metadata": nil, "email": nil})
		if res.JSON(t, &got); res.Status != 200 || string(got.Metadata) != "null" || got.Email != nil || *got.Name != "Ada L." {
			t.Fatalf("clearing patch: %d %s", res.Status, res.Body)
		}
		if res := e.Do(apptest.Request{Method: "PATCH", Path: "/api/end-users/" + eu.ID, Body: map[string]any{"name": "x"},
			Headers: apptest.As(f.otherOwner, f.otherOrg, f.otherOrgApp)}); res.Status != 404 {
			t.Fatalf("foreign patch: %d %s", res.Status, res.Body)
		}

		// Delete (profiles go with it); then 404.
		if res := f.do("DELETE", "/api/end-users/"+eu.ID, nil); res.Status != 204 || len(res.Body) != 0 {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
		if res := f.do("DELETE", "/api/end-users/"+eu.ID, nil); res.Status != 404 {
			t.Fatalf("second delete: %d", res.Status)
		}
		if res := f.do("GET", "/api/end-users/"+eu.ID, nil); res.Status != 404 {
			t.Fatalf("get deleted: %d", res.Status)
		}
		if err := e.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM connection_profiles WHERE end_user_id = ?`, eu.ID).Scan(&profiles); err != nil || profiles != 0 {
			t.Fatalf("profiles after delete = %d, %v", profiles, err)
		}

		var audits int
		if err := e.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events WHERE resource_id = ? AND actor_type = 'user' AND actor_id = ?`, eu.ID, f.owner).Scan(&audits); err != nil || audits != 5 {
			t.Fatalf("audit events = %d, %v", audits, err)
		}
	})
}

func TestEndUserUniqueness(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(e)
		a := f.create(t, map[string]any{"externalId": "ext-1", "email": "a@example.com"})
		b := f.create(t, map[string]any{"externalId": "ext-2", "email": "b@example.com"})
		tests := []struct {
			name, method, path string
			body               map[string]any
			status             int
			code               string
		}{
			{"duplicate externalId", "POST", "/api/end-users", map[string]any{"externalId": "ext-1"}, 409, "external_id_taken"},
			{"duplicate email", "POST", "/api/end-users", map[string]any{"email": "a@example.com"}, 409, "email_taken"},
			{"both duplicated: externalId wins", "POST", "/api/end-users", map[string]any{"externalId": "ext-1", "email": "a@example.com"}, 409, "external_id_taken"},
			{"email differs only by case", "POST", "/api/end-users", map[string]any{"email": "A@example.com"}, 201, ""},
			{"patch onto a taken externalId", "PATCH", "/api/end-users/" + b.ID, map[string]any{"externalId": "ext-1"}, 409, "external_id_taken"},
			{"patch onto a taken email", "PATCH", "/api/end-users/" + b.ID, map[string]any{"email": "a@example.com"}, 409, "email_taken"},
			{"patch keeping its own values", "PATCH", "/api/end-users/" + a.ID, map[string]any{"externalId": "ext-1", "email": "a@example.com"}, 200, ""},
		}
		for _, tc := range tests {
			res := f.do(tc.method, tc.path, tc.body)
			if res.Status != tc.status || (tc.code != "" && res.Problem(t).Code != tc.code) {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
			}
		}
		// The same externalId is free in another application.
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"externalId": "ext-1", "email": "a@example.com"},
			Headers: apptest.As(f.owner, f.org, f.otherApp)})
		if res.Status != 201 {
			t.Fatalf("other app: %d %s", res.Status, res.Body)
		}
	})
}

func TestEndUserValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(e)
		many := map[string]any{}
		for i := range 51 {
			many[fmt.Sprintf("k%02d", i)] = i
		}
		fifty := map[string]any{}
		for i := range 50 {
			fifty[fmt.Sprintf("k%02d", i)] = "v"
		}
		tests := []struct {
			name  string
			body  any
			field string // "" = accepted
			code  string
		}{
			{"empty body", map[string]any{}, "", ""},
			{"all scalar kinds", map[string]any{"metadata": map[string]any{"s": "x", "n": 1.5, "neg": -3, "b": true, "z": nil}}, "", ""},
			{"fifty keys", map[string]any{"metadata": fifty}, "", ""},
			{"key of 40", map[string]any{"metadata": map[string]any{strings.Repeat("k", 40): 1}}, "", ""},
			{"value of 500", map[string]any{"metadata": map[string]any{"k": strings.Repeat("é", 500)}}, "", ""},
			{"empty metadata", map[string]any{"metadata": map[string]any{}}, "", ""},
			{"null metadata", map[string]any{"metadata": nil}, "", ""},
			{"name of 200", map[string]any{"name": strings.Repeat("n", 200)}, "", ""},
			{"fifty-one keys", map[string]any{"metadata": many}, "metadata", "out_of_range"},
			{"key of 41", map[string]any{"metadata": map[string]any{strings.Repeat("k", 41): 1}}, "metadata." + strings.Repeat("k", 41), "invalid_key"},
			{"value of 501", map[string]any{"metadata": map[string]any{"k": strings.Repeat("v", 501)}}, "metadata.k", "out_of_range"},
			{"nested object", map[string]any{"metadata": map[string]any{"k": map[string]any{"a": 1}}}, "metadata.k", "invalid_type"},
			{"array value", map[string]any{"metadata": map[string]any{"k": []int{1}}}, "metadata.k", "invalid_type"},
			{"metadata not an object", map[string]any{"metadata": []int{1}}, "metadata", "invalid_type"},
			{"name of 201", map[string]any{"name": strings.Repeat("n", 201)}, "name", "out_of_range"},
			{"name not a string", map[string]any{"name": 3}, "name", "invalid_type"},
			{"externalId of 256", map[string]any{"externalId": strings.Repeat("x", 256)}, "externalId", "out_of_range"},
			{"email without domain", map[string]any{"email": "ada@"}, "email", "invalid_format"},
			{"email with display name", map[string]any{"email": "Ada <ada@example.com>"}, "email", "invalid_format"},
			{"email with double dot", map[string]any{"email": "ada..l@example.com"}, "email", "invalid_format"},
			{"email without TLD", map[string]any{"email": "ada@localhost"}, "email", "invalid_format"},
			{"unknown member", map[string]any{"nickname": "x"}, "nickname", "unknown_field"},
			{"not JSON", "{", "", "validation_failed"},
		}
		for _, tc := range tests {
			res := f.do("POST", "/api/end-users", tc.body)
			if tc.field == "" && tc.code == "" {
				if res.Status != 201 {
					t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
				}
				continue
			}
			p := res.Problem(t)
			if res.Status != 400 || p.Code != "validation_failed" {
				t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
				continue
			}
			if tc.field == "" {
				continue
			}
			found := false
			for _, fe := range p.Errors {
				found = found || (fe.Field == tc.field && fe.Code == tc.code)
			}
			if !found || !strings.HasPrefix(p.Detail, p.Errors[0].Field+": ") {
				t.Errorf("%s: want %s/%s in %s", tc.name, tc.field, tc.code, res.Body)
			}
		}
		// The same rules apply to PATCH.
		eu := f.create(t, map[string]any{})
		res := f.do("PATCH", "/api/end-users/"+eu.ID, map[string]any{"metadata": map[string]any{"k": []int{1}}})
		if p := res.Problem(t); res.Status != 400 || p.Errors[0].Field != "metadata.k" {
			t.Fatalf("patch validation: %d %s", res.Status, res.Body)
		}
	})
}

var linkPart = regexp.MustCompile(`<([^>]+)>; rel="(\w+)"`)

// links parses a Link header into rel → request path (with query).
func links(t *testing.T, header string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range linkPart.FindAllStringSubmatch(header, -1) {
		u, err := url.Parse(m[1])
		if err != nil || !u.IsAbs() {
			t.Fatalf("link %q is not an absolute URL", m[1])
		}
		out[m[2]] = u.RequestURI()
	}
	return out
}

func TestEndUserPagination(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(e)
		for i := range 45 {
			f.create(t, map[string]any{"externalId": fmt.Sprintf("ext-%02d", i), "email": fmt.Sprintf("u%02d@example.com", i)})
		}
		var all page
		f.do("GET", "/api/end-users?limit=100", nil).JSON(t, &all)
		if len(all.Data) != 45 || all.HasMore || all.Limit != 100 || all.Object != "list" {
			t.Fatalf("full list: %d items, hasMore %v", len(all.Data), all.HasMore)
		}
		for i := 1; i < len(all.Data); i++ { // createdAt desc, id desc
			a, b := all.Data[i-1], all.Data[i]
			if a.CreatedAt < b.CreatedAt || (a.CreatedAt == b.CreatedAt && a.ID < b.ID) {
				t.Fatalf("order broken at %d: %s/%s then %s/%s", i, a.CreatedAt, a.ID, b.CreatedAt, b.ID)
			}
		}
		order := make([]string, len(all.Data))
		for i, eu := range all.Data {
			order[i] = eu.ID
		}
		ids := func(p page) []string {
			out := make([]string, len(p.Data))
			for i, eu := range p.Data {
				out[i] = eu.ID
			}
			return out
		}

		// Forward: 20, 20, 5.
		path := "/api/end-users?limit=20"
		var lastLinks map[string]string
		for i, want := range []struct {
			from, to   int
			hasMore    bool
			next, prev bool
		}{{0, 20, true, true, false}, {20, 40, true, true, true}, {40, 45, false, false, true}} {
			res := f.do("GET", path, nil)
			var p page
			res.JSON(t, &p)
			l := links(t, res.Header.Get("Link"))
			if res.Status != 200 || p.HasMore != want.hasMore || p.Limit != 20 || !reflect.DeepEqual(ids(p), order[want.from:want.to]) {
				t.Fatalf("forward page %d: %d hasMore=%v items=%d", i, res.Status, p.HasMore, len(p.Data))
			}
			if _, ok := l["next"]; ok != want.next {
				t.Fatalf("forward page %d: links %v", i, l)
			}
			if _, ok := l["prev"]; ok != want.prev {
				t.Fatalf("forward page %d: links %v", i, l)
			}
			path, lastLinks = l["next"], l
		}

		// Backward from the last page: 20 (more before), then the first 20 (none before).
		path = lastLinks["prev"]
		for i, want := range []struct {
			from, to int
			hasMore  bool
		}{{20, 40, true}, {0, 20, false}} {
			res := f.do("GET", path, nil)
			var p page
			res.JSON(t, &p)
			l := links(t, res.Header.Get("Link"))
			if res.Status != 200 || p.HasMore != want.hasMore || !reflect.DeepEqual(ids(p), order[want.from:want.to]) {
				t.Fatalf("backward page %d: %d hasMore=%v items=%d %s", i, res.Status, p.HasMore, len(p.Data), path)
			}
			if _, ok := l["next"]; !ok {
				t.Fatalf("backward page %d: no next link: %v", i, l)
			}
			if _, ok := l["prev"]; ok != want.hasMore {
				t.Fatalf("backward page %d: links %v", i, l)
			}
			path = l["prev"]
		}

		// Filters.
		var p page
		f.do("GET", "/api/end-users?externalId=ext-07", nil).JSON(t, &p)
		if len(p.Data) != 1 || *p.Data[0].ExternalID != "ext-07" {
			t.Fatalf("externalId filter: %+v", p)
		}
		f.do("GET", "/api/end-users?email=u08%40example.com", nil).JSON(t, &p)
		if len(p.Data) != 1 || *p.Data[0].Email != "u08@example.com" {
			t.Fatalf("email filter: %+v", p)
		}
		f.do("GET", "/api/end-users?email=u08%40example.com&externalId=ext-07", nil).JSON(t, &p)
		if len(p.Data) != 0 || p.HasMore {
			t.Fatalf("combined filters: %+v", p)
		}
		res := f.do("GET", "/api/end-users", nil)
		if res.JSON(t, &p); len(p.Data) != 20 || p.Limit != 20 || !p.HasMore {
			t.Fatalf("default limit: %d items", len(p.Data))
		}
		if res.Header.Get("RateLimit-Policy") != "300;w=60" {
			t.Fatalf("RateLimit-Policy %q", res.Header.Get("RateLimit-Policy"))
		}
		// Other applications see none of them.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: apptest.As(f.owner, f.org, f.otherApp)})
		if res.JSON(t, &p); len(p.Data) != 0 || res.Header.Get("Link") != "" {
			t.Fatalf("other app: %s", res.Body)
		}

		// Bad parameters.
		for _, tc := range []struct{ query, param string }{
			{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=abc", "limit"},
			{"startingAfter=" + order[0] + "&endingBefore=" + order[1], "startingAfter"},
			{"startingAfter=eu_00000000-0000-4000-8000-000000000000", "startingAfter"},
			{"endingBefore=nope", "endingBefore"},
		} {
			res := f.do("GET", "/api/end-users?"+tc.query, nil)
			if p := res.Problem(t); res.Status != 400 || p.Code != "invalid_request" || p.Param != tc.param {
				t.Errorf("%s: %d %s", tc.query, res.Status, res.Body)
			}
		}
	})
}

func TestEndUserPermissions(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		f := setup(e)
		viewer, member := e.SeedUser("viewer@example.com"), e.SeedUser("member@example.com")
		e.SeedMember(f.org, viewer, "viewer")
		e.SeedMember(f.org, member, "member")
		eu := f.create(t, map[string]any{"name": "x"})
		as := func(user, method, path string, body any) int {
			return e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: apptest.As(user, f.org, f.app)}).Status
		}
		tests := []struct {
			user, method, path string
			body               any
			status             int
		}{
			{viewer, "GET", "/api/end-users", nil, 200},
			{viewer, "GET", "/api/end-users/" + eu.ID, nil, 200},
			{viewer, "POST", "/api/end-users", map[string]any{}, 403},
			{viewer, "PATCH", "/api/end-users/" + eu.ID, map[string]any{}, 403},
			{member, "POST", "/api/end-users", map[string]any{}, 201},
			{member, "PATCH", "/api/end-users/" + eu.ID, map[string]any{"name": "y"}, 200},
			{member, "DELETE", "/api/end-users/" + eu.ID, nil, 403},
			{f.owner, "DELETE", "/api/end-users/" + eu.ID, nil, 204},
		}
		for _, tc := range tests {
			if got := as(tc.user, tc.method, tc.path, tc.body); got != tc.status {
				t.Errorf("%s %s as %s: %d, want %d", tc.method, tc.path, tc.user, got, tc.status)
			}
		}
		// Application context is required.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: apptest.As(f.owner, f.org, "")})
		if p := res.Problem(t); res.Status != 400 || p.Param != "X-Application-Id" {
			t.Fatalf("no app: %d %s", res.Status, res.Body)
		}
	})
}
