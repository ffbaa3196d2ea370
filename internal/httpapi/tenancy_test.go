package httpapi

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/appstrate/appstrate-go/internal/auth"
)

// fakeTenancy: user u1 owns org o1 with app a1 (end-user eu1 of a1); org o2 has app a2.
type fakeTenancy struct{}

const testEndUser = "eu_11111111-1111-4111-8111-111111111111"

func (fakeTenancy) MemberRole(_ context.Context, org, user string) (auth.Role, error) {
	if org == "o1" && user == "u1" {
		return auth.RoleOwner, nil
	}
	return "", nil
}

func (fakeTenancy) ApplicationOrg(_ context.Context, app string) (string, error) {
	return map[string]string{"a1": "o1", "a2": "o2"}[app], nil
}

func (fakeTenancy) EndUserApplication(_ context.Context, eu string) (string, error) {
	if eu == testEndUser {
		return "a1", nil
	}
	return "", nil
}

func TestResolvePrincipal(t *testing.T) {
	session := func() *auth.Principal {
		return &auth.Principal{Method: auth.MethodSession, UserID: "u1", Realm: "platform"}
	}
	key := func() *auth.Principal {
		return &auth.Principal{Method: auth.MethodAPIKey, UserID: "u1", OrgID: "o1", ApplicationID: "a1", APIKeyScopes: []string{"agents:read"}}
	}
	tests := []struct {
		name      string
		principal func() *auth.Principal
		path      string
		headers   map[string]string
		wantCode  string
		wantParam string
		check     func(t *testing.T, p *auth.Principal)
	}{
		{name: "session needs X-Org-Id", principal: session, path: "/api/agents", wantCode: "invalid_request", wantParam: "X-Org-Id"},
		{name: "orgs routes skip the org context", principal: session, path: "/api/orgs"},
		{name: "profile skips the org context", principal: session, path: "/api/profile"},
		{name: "non-member is forbidden", principal: session, path: "/api/agents", headers: map[string]string{"X-Org-Id": "o2"}, wantCode: "forbidden"},
		{name: "app routes need X-Application-Id", principal: session, path: "/api/end-users", headers: map[string]string{"X-Org-Id": "o1"}, wantCode: "invalid_request", wantParam: "X-Application-Id"},
		{name: "foreign app is not found", principal: session, path: "/api/end-users", headers: map[string]string{"X-Org-Id": "o1", "X-Application-Id": "a2"}, wantCode: "not_found"},
		{name: "org routes need no app", principal: session, path: "/api/applications", headers: map[string]string{"X-Org-Id": "o1"},
			check: func(t *testing.T, p *auth.Principal) {
				if p.OrgID != "o1" || p.Role != auth.RoleOwner || !p.Can("org:delete") || p.ApplicationID != "" {
					t.Fatalf("resolved %+v", p)
				}
			}},
		{name: "session may not impersonate", principal: session, path: "/api/end-users", headers: map[string]string{"X-Org-Id": "o1", "X-Application-Id": "a1", "Appstrate-User": testEndUser}, wantCode: "header_not_allowed", wantParam: "Appstrate-User"},
		{name: "realm guard", principal: func() *auth.Principal { p := session(); p.Realm = "end_user:a1"; return p }, path: "/api/orgs", wantCode: "forbidden"},
		{name: "api key ignores X-Org-Id", principal: key, path: "/api/agents", headers: map[string]string{"X-Org-Id": "o2"},
			check: func(t *testing.T, p *auth.Principal) {
				if p.OrgID != "o1" || !p.Can("agents:read") || p.Can("agents:write") {
					t.Fatalf("resolved %+v", p.Permissions.Sorted())
				}
			}},
		{name: "api key with another app header", principal: key, path: "/api/agents", headers: map[string]string{"X-Application-Id": "a2"}, wantCode: "forbidden", wantParam: "X-Application-Id"},
		{name: "impersonation needs an eu_ id", principal: key, path: "/api/agents", headers: map[string]string{"Appstrate-User": "u_123"}, wantCode: "invalid_end_user_id", wantParam: "Appstrate-User"},
		{name: "impersonation of a foreign end-user", principal: key, path: "/api/agents", headers: map[string]string{"Appstrate-User": "eu_22222222-2222-4222-8222-222222222222"}, wantCode: "invalid_end_user", wantParam: "Appstrate-User"},
		{name: "impersonation", principal: key, path: "/api/agents", headers: map[string]string{"Appstrate-User": testEndUser},
			check: func(t *testing.T, p *auth.Principal) {
				if p.EndUserID != testEndUser {
					t.Fatalf("end-user not set: %+v", p)
				}
			}},
		{name: "key whose creator left", principal: func() *auth.Principal { p := key(); p.UserID = "gone"; return p }, path: "/api/agents", wantCode: "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			p := tt.principal()
			problem := resolvePrincipal(r, p, fakeTenancy{})
			gotCode, gotParam := "", ""
			if problem != nil {
				gotCode, gotParam = problem.Code, problem.Param
			}
			if gotCode != tt.wantCode || gotParam != tt.wantParam {
				t.Fatalf("problem = %q/%q, want %q/%q", gotCode, gotParam, tt.wantCode, tt.wantParam)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

// FuzzTenancyHeaders feeds arbitrary X-Org-Id, X-Application-Id and Appstrate-User values to the resolver:
// it must never panic, and a request it accepts is always scoped to the credential's tenant.
func FuzzTenancyHeaders(f *testing.F) {
	f.Add("o1", "a1", testEndUser, true)
	f.Add("o2", "a2", "eu_x", false)
	f.Add("", "", "", false)
	f.Add("o1\x00", "a1 ", "EU_11111111-1111-4111-8111-111111111111", true)
	f.Fuzz(func(t *testing.T, org, app, endUser string, apiKey bool) {
		r := httptest.NewRequest("GET", "/api/end-users", nil)
		r.Header.Set("X-Org-Id", org)
		r.Header.Set("X-Application-Id", app)
		r.Header.Set("Appstrate-User", endUser)
		p := &auth.Principal{Method: auth.MethodSession, UserID: "u1", Realm: "platform"}
		if apiKey {
			p = &auth.Principal{Method: auth.MethodAPIKey, UserID: "u1", OrgID: "o1", ApplicationID: "a1"}
		}
		if resolvePrincipal(r, p, fakeTenancy{}) != nil {
			return
		}
		if p.OrgID != "o1" || p.ApplicationID != "a1" {
			t.Fatalf("accepted foreign tenant: org %q app %q", p.OrgID, p.ApplicationID)
		}
		if p.EndUserID != "" && p.EndUserID != testEndUser {
			t.Fatalf("accepted foreign end-user %q", p.EndUserID)
		}
	})
}
