package profiles_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

func (w *world) overrides(agent string, h http.Header) map[string]string {
	w.e.T.Helper()
	var out struct{ Overrides map[string]string }
	w.do("GET", "/api/agents/"+agent+"/provider-profiles", nil, h, 200, "").JSON(w.e.T, &out)
	if out.Overrides == nil {
		w.e.T.Fatal("overrides is null")
	}
	return out.Overrides
}

func TestAgentProviderProfiles(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		path := "/api/agents/@acme/writer/provider-profiles"
		adaWork := w.create("/api/connection-profiles", "Work", w.asAda)
		bobDefault := w.defaultProfile(w.asBob)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		shared2 := w.create("/api/app-profiles", "Shared 2", w.asAdaK2)
		euDefault := w.defaultProfile(w.asEU)

		if got := w.overrides("@acme/writer", w.asAda); len(got) != 0 {
			t.Fatalf("initial %v", got)
		}
		set := func(provider, profile string) map[string]any {
			return map[string]any{"providerId": provider, "connectionProfileId": profile}
		}
		tests := []struct {
			name, method, path string
			body               any
			h                  http.Header
			status             int
			code               string
		}{
			{"own profile", "PUT", path, set(mail, adaWork), w.asAda, 200, ""},
			{"an app profile of this application", "PUT", path, set(crm, shared), w.asAda, 200, ""},
			{"an app profile of another application", "PUT", path, set(crm, shared2), w.asAda, 404, "not_found"},
			{"another member's profile", "PUT", path, set(mail, bobDefault), w.asAda, 404, "not_found"},
			{"an end-user's profile", "PUT", path, set(mail, euDefault), w.asAda, 404, "not_found"},
			{"an unknown profile", "PUT", path, set(mail, "nope"), w.asAda, 404, "not_found"},
			{"a provider the agent does not declare", "PUT", path, set("@acme/other", adaWork), w.asAda, 400, "invalid_request"},
			{"missing fields", "PUT", path, map[string]any{"providerId": mail}, w.asAda, 400, "validation_failed"},
			{"viewers cannot run agents", "PUT", path, set(mail, adaWork), w.asVic, 403, "forbidden"},
			{"viewers may read", "GET", path, nil, w.asVic, 200, ""},
			{"an agent of another organization", "GET", "/api/agents/@rival/agent/provider-profiles", nil, w.asAda, 404, "agent_not_found"},
			{"an agent not installed here", "PUT", "/api/agents/@acme/writer/provider-profiles", set(mail, adaWork),
				apptest.As(w.eve, w.rival, w.rivalApp), 404, "agent_not_found"},
			{"the end-user's own profile", "PUT", path, set(mail, euDefault), w.asEU, 200, ""},
			{"an end-user cannot use the user's profile", "PUT", path, set(crm, adaWork), w.asEU, 404, "not_found"},
			{"delete without provider", "DELETE", path, nil, w.asAda, 400, "validation_failed"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := w.do(tc.method, tc.path, tc.body, tc.h, tc.status, tc.code)
				if tc.method == "PUT" && tc.status == 200 && strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
					t.Fatalf("body %s", res.Body)
				}
			})
		}
		if got := w.overrides("@acme/writer", w.asAda); len(got) != 2 || got[mail] != adaWork || got[crm] != shared {
			t.Fatalf("ada's %v", got)
		}
		// Overrides are the actor's: the API key acts as ada, the end-user has its own, bob has none.
		if got := w.overrides("@acme/writer", w.key()); len(got) != 2 {
			t.Fatalf("key's %v", got)
		}
		if got := w.overrides("@acme/writer", w.asEU); len(got) != 1 || got[mail] != euDefault {
			t.Fatalf("end-user's %v", got)
		}
		if got := w.overrides("@acme/writer", w.asBob); len(got) != 0 {
			t.Fatalf("bob's %v", got)
		}
		// An override naming an app profile applies only in its application.
		if got := w.overrides("@acme/writer", w.asAdaK2); len(got) != 1 || got[mail] != adaWork {
			t.Fatalf("ada's in app2 %v", got)
		}

		// Replace, then delete (body or query), idempotently.
		w.do("PUT", path, set(mail, w.defaultProfile(w.asAda)), w.asAda, 200, "")
		if got := w.overrides("@acme/writer", w.asAda); got[mail] == adaWork || len(got) != 2 {
			t.Fatalf("after replace %v", got)
		}
		w.do("DELETE", path, map[string]any{"providerId": mail}, w.asAda, 200, "")
		w.do("DELETE", path+"?providerId=@acme/crm", nil, w.asAda, 200, "")
		w.do("DELETE", path+"?providerId=@acme/crm", nil, w.asAda, 200, "")
		w.do("DELETE", path, map[string]any{"providerId": mail}, w.asVic, 403, "forbidden")
		if got := w.overrides("@acme/writer", w.asAda); len(got) != 0 {
			t.Fatalf("after delete %v", got)
		}
		if got := w.overrides("@acme/writer", w.asEU); len(got) != 1 {
			t.Fatalf("end-user's after ada's delete %v", got)
		}
	})
}
