package apptest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
)

// cookieOf returns the session cookie pair ("name=value") set by a response.
func cookieOf(t *testing.T, res *apptest.Response) string {
	t.Helper()
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if strings.HasSuffix(c.Name, "better-auth.session_token") && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie in %v", res.Header.Values("Set-Cookie"))
	return ""
}

// TestNewUserWalk is the acceptance walk of the identity issue, through the real routes only: sign up →
// cookie → create org → default app listed → create API key (raw key once) → the key lists its app's
// agents and end-users → revoke → 401.
func TestNewUserWalk(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		const password = "correct horse battery staple"
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/auth/sign-up/email",
			Body: map[string]string{"email": "ada@example.com", "password": password, "name": "Ada"}})
		if res.Status != 200 {
			t.Fatalf("sign up: %d %s", res.Status, res.Body)
		}
		cookie := cookieOf(t, res)
		session := apptest.Headers("Cookie", cookie)

		res = e.Do(apptest.Request{Method: "POST", Path: "/api/orgs", Body: map[string]string{"name": "Acme Corp"}, Headers: session})
		if res.Status != 201 {
			t.Fatalf("create org: %d %s", res.Status, res.Body)
		}
		var org struct{ ID, Slug, Role string }
		res.JSON(t, &org)
		if org.Slug != "acme-corp" || org.Role != "owner" {
			t.Fatalf("org: %+v", org)
		}

		res = e.Do(apptest.Request{Method: "GET", Path: "/api/applications", Headers: apptest.Headers("Cookie", cookie, "X-Org-Id", org.ID)})
		var apps struct {
			Data []struct {
				ID        string
				IsDefault bool
			}
		}
		res.JSON(t, &apps)
		if res.Status != 200 || len(apps.Data) != 1 || !apps.Data[0].IsDefault {
			t.Fatalf("applications: %d %s", res.Status, res.Body)
		}
		appID := apps.Data[0].ID
		inApp := apptest.Headers("Cookie", cookie, "X-Org-Id", org.ID, "X-Application-Id", appID)

		res = e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Body: map[string]any{"name": "ci"}, Headers: inApp})
		if res.Status != 201 {
			t.Fatalf("create key: %d %s", res.Status, res.Body)
		}
		var key struct{ ID, Key, KeyPrefix string }
		res.JSON(t, &key)
		if !strings.HasPrefix(key.Key, "ask_") || len(key.Key) != 52 || !strings.HasPrefix(key.Key, key.KeyPrefix) {
			t.Fatalf("key: %+v", key)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/api-keys", Headers: inApp})
		if strings.Contains(string(res.Body), key.Key) {
			t.Fatal("the raw key is shown again after creation")
		}

		bearer := apptest.Headers("Authorization", "Bearer "+key.Key)
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/agents", Headers: bearer})
		if res.Status != 200 || !strings.Contains(string(res.Body), `"id":"@acme-corp/hello-world"`) {
			t.Fatalf("key lists the app's agents (hello-world installed at org creation): %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/end-users", Body: map[string]any{"externalId": "cust-1"}, Headers: bearer})
		if res.Status != 201 {
			t.Fatalf("key creates an end-user: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer})
		if res.Status != 200 || !strings.Contains(string(res.Body), `"externalId":"cust-1"`) {
			t.Fatalf("key lists end-users: %d %s", res.Status, res.Body)
		}

		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/api-keys/" + key.ID, Headers: inApp}); res.Status != 204 {
			t.Fatalf("revoke: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/end-users", Headers: bearer})
		if res.Status != 401 || res.Problem(t).Code != "unauthorized" {
			t.Fatalf("revoked key: %d %s", res.Status, res.Body)
		}

		// Secrets never reach the logs.
		logs := e.Logs.String()
		cookieValue := strings.SplitN(cookie, "=", 2)[1]
		sessionToken, _, _ := strings.Cut(cookieValue, ".")
		for name, secret := range map[string]string{"password": password, "api key": key.Key, "session cookie": cookieValue, "session token": sessionToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("the %s appears in the logs", name)
			}
		}
	})
}
