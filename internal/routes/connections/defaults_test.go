package connections_test

import (
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
)

// TestLoopbackRefusedByDefault: without the explicit test opt-in, the outbound policy refuses the loopback
// test servers, for OAuth endpoints and for the credential proxy alike.
func TestLoopbackRefusedByDefault(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		owner := e.SeedUser("owner@acme.test")
		org, app := e.SeedOrg(owner, "acme")
		w := &world{t: t, e: e, owner: owner, org: org, app: app, slug: "acme"} // no newWorld: the default policy
		srv := newOAuth1Server(t)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/trello", "displayName": "Trello", "authMode": "oauth1",
			"clientId": srv.ConsumerKey, "clientSecret": srv.ConsumerSecret,
			"requestTokenUrl": srv.URL() + "/1/OAuthGetRequestToken", "accessTokenUrl": srv.URL() + "/1/OAuthGetAccessToken",
			"authorizationUrl": srv.URL() + "/1/OAuthAuthorizeToken", "authorizedUris": []string{srv.URL() + "/1/**"}}, w.as(owner)), 201)
		if p := w.want(w.do("POST", "/api/connections/connect/@acme/trello", nil, w.as(owner)), http.StatusBadGateway).Problem(t); p.Code != "provider_error" {
			t.Fatalf("problem %+v", p)
		}

		sink := newKeySink(t)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/keyed", "displayName": "Keyed", "authMode": "api_key",
			"credentialHeaderName": "X-Api-Key", "authorizedUris": []string{sink.srv.URL + "/**"}}, w.as(owner)), 201)
		w.want(w.do("POST", "/api/connections/connect/@acme/keyed/api-key", map[string]any{"apiKey": "key-123456"}, w.as(owner)), 200)
		key := w.apiKey(owner, auth.RoleOwner, app)
		r := w.want(w.do("GET", "/api/credential-proxy/proxy", nil, bearer(key, "X-Provider", "@acme/keyed", "X-Target", sink.srv.URL+"/x")), 403)
		if p := r.Problem(t); p.Detail != "Blocked: the target resolves to a loopback address" {
			t.Fatalf("problem %+v", p)
		}
		if got := sink.take(); got != "" {
			t.Fatalf("the loopback server was reached with %q", got)
		}
	})
}
