package profiles_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/store"
)

// TestResolutionOrder walks the rules of PACKAGES.md §4.7 over the database, one row per rule: each row
// starts with its rule and every later one applicable, proves its rule wins, then removes it.
func TestResolutionOrder(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		bobDefault := w.defaultProfile(w.asBob)
		adaDefault := w.defaultProfile(w.asAda)
		adaOverride := w.create("/api/connection-profiles", "Override", w.asAda)
		adaExplicit := w.create("/api/connection-profiles", "Explicit", w.asAda)
		adaPinned := w.create("/api/connection-profiles", "Pinned", w.asAda)
		conns := map[string]string{}
		for _, p := range []string{bobDefault, adaDefault, adaOverride, adaExplicit, adaPinned} {
			conns[p] = w.connect(p, mail, w.app, false, "mail.read", "mail.send")
		}
		w.do("POST", "/api/app-profiles/"+shared+"/bind", map[string]any{"providerId": mail}, w.asBob, 200, "")
		w.do("PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": shared}, w.asAda, 200, "")
		w.do("PUT", "/api/agents/@acme/writer/provider-profiles", map[string]any{"providerId": mail, "connectionProfileId": adaOverride}, w.asAda, 200, "")
		w.do("PUT", "/api/me/application-profile", map[string]any{"connectionProfileId": adaPinned}, w.asAda, 200, "")

		tests := []struct {
			rule     string
			explicit string
			profile  string
			source   providers.Source
			remove   func()
		}{
			{"app binding beats the per-agent override", adaExplicit, bobDefault, providers.SourceAppBinding, func() {
				w.do("PUT", "/api/agents/@acme/writer/app-profile", map[string]any{"appProfileId": nil}, w.asAda, 200, "")
			}},
			{"per-agent override beats the explicit profile", adaExplicit, adaOverride, providers.SourceAgentOverride, func() {
				w.do("DELETE", "/api/agents/@acme/writer/provider-profiles", map[string]any{"providerId": mail}, w.asAda, 200, "")
			}},
			{"explicit profile beats the pinned profile", adaExplicit, adaExplicit, providers.SourceExplicitProfile, func() {}},
			{"pinned profile beats the Default profile", "", adaPinned, providers.SourcePinnedProfile, func() {
				w.do("DELETE", "/api/me/application-profile", nil, w.asAda, 204, "")
			}},
			{"Default profile last", "", adaDefault, providers.SourceDefaultProfile, func() {}},
		}
		for _, tc := range tests {
			t.Run(tc.rule, func(t *testing.T) {
				rc := providers.RunContext{OrgID: w.acme, AppID: w.app, Actor: providers.Actor{UserID: w.ada}, AgentID: "@acme/writer",
					ExplicitProfileID: tc.explicit}
				resolved, _, err := e.App.Resolver.Resolve(context.Background(), nil, rc)
				if err != nil {
					t.Fatal(err)
				}
				want := providers.Resolved{ProviderID: mail, ProfileID: tc.profile, ConnectionID: conns[tc.profile], Source: tc.source}
				if resolved[mail] != want {
					t.Fatalf("got %+v, want %+v", resolved[mail], want)
				}
				tc.remove()
			})
		}

		// Inside a transaction, and for an end-user, and with an explicit app profile (bindings only).
		err := e.DB.InTx(context.Background(), func(tx *store.Tx) error {
			resolved, missing, err := e.App.Resolver.Resolve(context.Background(), tx, providers.RunContext{OrgID: w.acme, AppID: w.app,
				Actor: providers.Actor{EndUserID: w.eu}, AgentID: "@acme/writer"})
			if err != nil {
				return err
			}
			if resolved[mail].Source != providers.SourceDefaultProfile || resolved[mail].ConnectionID != "" || len(missing) != 2 {
				t.Errorf("end-user: %+v %+v", resolved, missing)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		resolved, missing, err := e.App.Resolver.Resolve(context.Background(), nil, providers.RunContext{OrgID: w.acme, AppID: w.app,
			Actor: providers.Actor{UserID: w.ada}, AgentID: "@acme/writer", ExplicitProfileID: shared})
		if err != nil || resolved[mail].ProfileID != bobDefault || len(missing) != 1 || missing[0].ProviderID != crm || missing[0].ProfileID != "" {
			t.Fatalf("explicit app profile: %+v %+v %v", resolved, missing, err)
		}
	})
}

type readiness struct {
	Ready   bool `json:"ready"`
	Missing []struct {
		ProviderID          string  `json:"providerId"`
		ConnectionProfileID *string `json:"connectionProfileId"`
		Reason              string  `json:"reason"`
		Message             string  `json:"message"`
	} `json:"missing"`
}

func (w *world) readiness(query string, h http.Header) readiness {
	w.e.T.Helper()
	var r readiness
	w.do("GET", "/api/agents/@acme/writer/readiness"+query, nil, h, 200, "").JSON(w.e.T, &r)
	if r.Missing == nil {
		w.e.T.Fatal("missing is null")
	}
	return r
}

// TestReadinessReasons goes through every reason of GET /api/agents/{scope}/{name}/readiness in the order
// the checks run, fixing one problem per row.
func TestReadinessReasons(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		adaDefault := w.defaultProfile(w.asAda)
		w.connect(adaDefault, crm, w.app, false) // crm is ready throughout
		var mailConn string
		good, _ := e.App.Resolver.Keyring.EncryptJSON(map[string]string{"clientId": "id", "clientSecret": "secret"})
		half, _ := e.App.Resolver.Keyring.EncryptJSON(map[string]string{"clientId": "id"})

		tests := []struct {
			reason, message string
			fix             func()
		}{
			{"provider_not_enabled", "Provider @acme/mail is not enabled for this application", func() {
				w.exec(`UPDATE application_provider_credentials SET enabled = ?, credentials_encrypted = ? WHERE id = ?`, true, half, w.creds[w.app+mail])
			}},
			{"provider_not_configured", "Provider @acme/mail is not configured: an administrator must set its OAuth client credentials for this application", func() {
				w.exec(`UPDATE application_provider_credentials SET credentials_encrypted = ? WHERE id = ?`, good, w.creds[w.app+mail])
			}},
			{"no_connection", `No connection for provider @acme/mail on profile "Default": connect an account first`, func() {
				mailConn = w.connect(adaDefault, mail, w.app, true)
			}},
			{"needs_reconnection", `The connection to @acme/mail on profile "Default" must be reconnected`, func() {
				w.exec(`UPDATE user_provider_connections SET needs_reconnection = ?, scopes_granted = ? WHERE id = ?`, false, `["mail.read"]`, mailConn)
			}},
			{"scope_insufficient", "@acme/mail requires additional permissions: mail.send", func() {
				w.exec(`UPDATE user_provider_connections SET scopes_granted = ? WHERE id = ?`, `["mail.send","mail.read","extra"]`, mailConn)
			}},
		}
		w.exec(`UPDATE application_provider_credentials SET enabled = ? WHERE id = ?`, false, w.creds[w.app+mail])
		for _, tc := range tests {
			t.Run(tc.reason, func(t *testing.T) {
				r := w.readiness("", w.asAda)
				if r.Ready || len(r.Missing) != 1 || r.Missing[0].ProviderID != mail || r.Missing[0].Reason != tc.reason ||
					r.Missing[0].Message != tc.message || r.Missing[0].ConnectionProfileID == nil || *r.Missing[0].ConnectionProfileID != adaDefault {
					t.Fatalf("readiness %+v", r)
				}
				tc.fix()
			})
		}
		if r := w.readiness("", w.asAda); !r.Ready || len(r.Missing) != 0 {
			t.Fatalf("ready %+v", r)
		}

		// The profiles readiness searches.
		work := w.create("/api/connection-profiles", "Work", w.asAda)
		shared := w.create("/api/app-profiles", "Shared", w.asAda)
		bobDefault := w.defaultProfile(w.asBob)
		w.connect(bobDefault, mail, w.app, false, "mail.read", "mail.send")
		w.do("POST", "/api/app-profiles/"+shared+"/bind", map[string]any{"providerId": mail}, w.asBob, 200, "")
		tests2 := []struct {
			name, query string
			h           http.Header
			missing     map[string]string // provider → searched profile ("" = none) of each missing entry
		}{
			{"explicit profile", "?connectionProfileId=" + work, w.asAda, map[string]string{mail: work, crm: work}},
			{"per-provider profile", "?" + url.Values{"providerProfile." + mail: {work}}.Encode(), w.asAda, map[string]string{mail: work}},
			{"explicit app profile: its bindings only", "?connectionProfileId=" + shared, w.asAda, map[string]string{crm: ""}},
			{"the API key acts as its creator", "", w.key(), map[string]string{}},
			{"an end-user searches its own Default", "", w.asEU, map[string]string{mail: w.defaultProfile(w.asEU), crm: w.defaultProfile(w.asEU)}},
			{"another member searches their own Default", "", w.asBob, map[string]string{crm: bobDefault}},
			{"app2 has none of ada's connections", "", w.asAdaK2, map[string]string{mail: adaDefault, crm: adaDefault}},
		}
		for _, tc := range tests2 {
			t.Run(tc.name, func(t *testing.T) {
				r := w.readiness(tc.query, tc.h)
				got := map[string]string{}
				for _, m := range r.Missing {
					got[m.ProviderID] = ""
					if m.ConnectionProfileID != nil {
						got[m.ProviderID] = *m.ConnectionProfileID
					}
				}
				if r.Ready != (len(tc.missing) == 0) || !sameMap(got, tc.missing) {
					raw, _ := json.Marshal(r)
					t.Fatalf("readiness %s, want missing %v", raw, tc.missing)
				}
			})
		}
		for _, profile := range []string{bobDefault, "nope", w.defaultProfile(w.asEU)} {
			w.do("GET", "/api/agents/@acme/writer/readiness?connectionProfileId="+profile, nil, w.asAda, 404, "not_found")
		}
		w.do("GET", "/api/agents/@acme/writer/readiness?connectionProfileId="+shared, nil, w.asAdaK2, 404, "not_found")
	})
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
