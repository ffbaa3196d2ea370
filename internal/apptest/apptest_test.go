package apptest

import "testing"

func TestHarnessResolvesOrgAndApp(t *testing.T) {
	Run(t, nil, func(t *testing.T, e *Env) {
		owner := e.SeedUser("owner@example.com")
		stranger := e.SeedUser("stranger@example.com")
		org, app := e.SeedOrg(owner, "acme")

		// An authenticated member reaches the 404 fallback (org and app resolved).
		res := e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: As(owner, org, app)})
		if res.Status != 404 {
			t.Fatalf("member: %d %s", res.Status, res.Body)
		}
		// Missing X-Org-Id → 400 with param.
		res = e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: As(owner, "", "")})
		if p := res.Problem(t); res.Status != 400 || p.Param != "X-Org-Id" {
			t.Fatalf("missing org: %d %+v", res.Status, p)
		}
		// Not a member → 403.
		res = e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: As(stranger, org, app)})
		if res.Status != 403 {
			t.Fatalf("stranger: %d %s", res.Status, res.Body)
		}
		// Missing X-Application-Id on an app route → 400 with param.
		res = e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: As(owner, org, "")})
		if p := res.Problem(t); res.Status != 400 || p.Param != "X-Application-Id" {
			t.Fatalf("missing app: %d %+v", res.Status, p)
		}
		// An application of another org → 404.
		otherOrg, otherApp := e.SeedOrg(stranger, "other")
		_ = otherOrg
		res = e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: As(owner, org, otherApp)})
		if p := res.Problem(t); res.Status != 404 || p.Detail != "Application not found" {
			t.Fatalf("foreign app: %d %+v", res.Status, p)
		}
		// Session callers may not impersonate end-users.
		h := As(owner, org, app)
		h.Set("Appstrate-User", "eu_00000000-0000-4000-8000-000000000000")
		if res = e.Do(Request{Method: "GET", Path: "/api/agents/nope", Headers: h}); res.Problem(t).Code != "header_not_allowed" {
			t.Fatalf("impersonation by session: %d %s", res.Status, res.Body)
		}
	})
}
