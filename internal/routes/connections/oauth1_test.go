package connections_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/auth"
)

// TestOAuth1Connection runs an OAuth 1.0a flow against a server that verifies every HMAC-SHA1 signature:
// request token → authorize (Trello-style parameters) → callback → access token → encrypted
// {consumer_key, access_token, access_token_secret} → an API call through the credential proxy.
func TestOAuth1Connection(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e, "acme")
		srv := newOAuth1Server(t)
		w.want(w.do("POST", "/api/providers", map[string]any{"id": "@acme/trello", "displayName": "Trello", "authMode": "oauth1",
			"clientId": srv.ConsumerKey, "clientSecret": srv.ConsumerSecret,
			"requestTokenUrl": srv.URL() + "/1/OAuthGetRequestToken", "accessTokenUrl": srv.URL() + "/1/OAuthGetAccessToken",
			"authorizationUrl":    srv.URL() + "/1/OAuthAuthorizeToken",
			"authorizationParams": map[string]string{"name": "Appstrate", "scope": "read,write", "expiration": "never"},
			"authorizedUris":      []string{srv.URL() + "/1/**"}}, w.as(w.owner)), http.StatusCreated)

		var start struct{ AuthURL, State string }
		w.want(w.do("POST", "/api/connections/connect/@acme/trello", nil, w.as(w.owner)), 200).JSON(t, &start)
		au, _ := url.Parse(start.AuthURL)
		if q := au.Query(); q.Get("oauth_token") != start.State || q.Get("name") != "Appstrate" || q.Get("scope") != "read,write" ||
			q.Get("expiration") != "never" {
			t.Fatalf("authUrl %s", start.AuthURL)
		}
		cb := browse(t, start.AuthURL)
		if cb.Query().Get("oauth_verifier") == "" {
			t.Fatalf("callback %s", cb)
		}
		r := w.want(w.do("GET", cb.RequestURI(), nil, nil), 200)
		if !contains(r.Body, "Connected") || srv.BadSignatures != 0 {
			t.Fatalf("callback page (bad signatures %d): %s", srv.BadSignatures, r.Body)
		}

		var list struct {
			Data []struct{ Provider, Status, ConnectionID string }
		}
		w.want(w.do("GET", "/api/connections", nil, w.as(w.owner)), 200).JSON(t, &list)
		if len(list.Data) != 1 || list.Data[0].Status != "connected" {
			t.Fatalf("connections %+v", list.Data)
		}
		var integrations struct {
			Integrations []struct{ Provider, AuthMode, Status string }
		}
		w.want(w.do("GET", "/api/connections/integrations", nil, w.as(w.owner)), 200).JSON(t, &integrations)
		found := false
		for _, in := range integrations.Integrations {
			if in.Provider == "@acme/trello" {
				found = in.AuthMode == "OAUTH1" && in.Status == "connected"
			}
		}
		if !found {
			t.Fatalf("integrations %+v", integrations)
		}
		env := columnValue(t, e.DB, `SELECT credentials_encrypted FROM user_provider_connections WHERE id = ?`, list.Data[0].ConnectionID)
		if !strings.HasPrefix(env, "v1:") {
			t.Fatalf("credentials_encrypted %q", env)
		}

		// Trello's API takes key and token as query parameters: placeholders of the connection's fields.
		key := w.apiKey(w.owner, auth.RoleOwner, w.app)
		r = w.want(w.do("GET", "/api/credential-proxy/proxy", nil, bearer(key, "X-Provider", "@acme/trello",
			"X-Target", srv.URL()+"/1/members/me?key={{consumer_key}}&token={{access_token}}")), 200)
		if !contains(r.Body, `"trello-member"`) {
			t.Fatalf("proxy: %s", r.Body)
		}
		// A verifier is single-use: replaying the callback fails and changes nothing.
		r = w.want(w.do("GET", cb.RequestURI(), nil, nil), 200)
		if !contains(r.Body, "expired or was already completed") {
			t.Fatalf("replay: %s", r.Body)
		}

		secrets := append(append([]string{}, srv.Issued...), srv.ConsumerSecret)
		noSecret(t, "the database", rawDatabase(t, e.DB), secrets...)
		noSecret(t, "the logs", e.Logs.Bytes(), secrets...)
		for _, b := range w.bodies {
			noSecret(t, "a response body", b, secrets...)
		}
	})
}
