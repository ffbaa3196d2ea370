package webhooks_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// world is one platform with two organizations: acme (owner, a member without webhook permissions, two
// applications and an API key of the default one holding the webhook scopes) and globex.
type world struct {
	e              *apptest.Env
	owner, member  string
	org, app, app2 string
	key            string // Bearer ask_… of app (webhooks:read/write/delete)
	other          string // globex owner
	otherOrg       string
	otherApp       string
}

func newWorld(t *testing.T, e *apptest.Env) *world {
	t.Helper()
	w := &world{e: e}
	w.owner = e.SeedUser("owner@acme.test")
	w.org, w.app = e.SeedOrg(w.owner, "acme")
	w.app2 = e.SeedApp(w.org, "Second")
	w.member = e.SeedUser("member@acme.test")
	e.SeedMember(w.org, w.member, "member")
	w.other = e.SeedUser("owner@globex.test")
	w.otherOrg, w.otherApp = e.SeedOrg(w.other, "globex")
	for _, pkg := range []struct{ id, org string }{{"@acme/hello-world", w.org}, {"@acme/other", w.org}, {"@globex/hello-world", w.otherOrg}} {
		now := isotime.Now()
		if _, err := e.DB.ExecContext(t.Context(), `INSERT INTO packages (id, org_id, type, created_at, updated_at) VALUES (?, ?, 'agent', ?, ?)`,
			pkg.id, pkg.org, now, now); err != nil {
			t.Fatal(err)
		}
	}
	res := e.Do(apptest.Request{Method: "POST", Path: "/api/api-keys", Headers: apptest.As(w.owner, w.org, w.app),
		Body: map[string]any{"name": "hooks", "scopes": []string{"webhooks:read", "webhooks:write", "webhooks:delete"}}})
	if res.Status != 201 {
		t.Fatalf("create api key: %d %s", res.Status, res.Body)
	}
	var k struct{ Key string }
	res.JSON(t, &k)
	w.key = k.Key
	return w
}

// newAdmin adds an admin of acme and returns its headers: each caller has its own rate-limit budget
// (10 creations per minute).
func (w *world) newAdmin() http.Header {
	u := w.e.SeedUser("admin-" + randomSuffix() + "@acme.test")
	w.e.SeedMember(w.org, u, "admin")
	return apptest.As(u, w.org, "")
}

var suffix atomic.Int64

func randomSuffix() string { return strconv.FormatInt(suffix.Add(1), 10) }

// asOwner, asKey... are the header sets of the callers.
func (w *world) asOwner() http.Header  { return apptest.As(w.owner, w.org, "") }
func (w *world) asMember() http.Header { return apptest.As(w.member, w.org, "") }
func (w *world) asOther() http.Header  { return apptest.As(w.other, w.otherOrg, "") }
func (w *world) asKey() http.Header    { return apptest.Headers("Authorization", "Bearer "+w.key) }

// wire is a webhook as the API returns it.
type wire struct {
	ID            string   `json:"id"`
	Object        string   `json:"object"`
	Level         string   `json:"level"`
	ApplicationID *string  `json:"applicationId"`
	URL           string   `json:"url"`
	Events        []string `json:"events"`
	PackageID     *string  `json:"packageId"`
	PayloadMode   string   `json:"payloadMode"`
	Enabled       bool     `json:"enabled"`
	CreatedAt     string   `json:"createdAt"`
	UpdatedAt     string   `json:"updatedAt"`
	Secret        string   `json:"secret"`
}

// create makes a webhook through the API and fails the test unless it is 201.
func (w *world) create(t *testing.T, h http.Header, body map[string]any) wire {
	t.Helper()
	res := w.e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Body: body, Headers: h})
	if res.Status != 201 {
		t.Fatalf("create webhook %v: %d %s", body, res.Status, res.Body)
	}
	var out wire
	res.JSON(t, &out)
	return out
}

func orgHook(url string, events ...string) map[string]any {
	if len(events) == 0 {
		events = []string{"run.success", "run.failed"}
	}
	return map[string]any{"level": "org", "url": url, "events": events}
}

func appHook(appID, url string, events ...string) map[string]any {
	b := orgHook(url, events...)
	b["level"], b["applicationId"] = "application", appID
	return b
}

func idsOf(list []wire) string {
	var out []string
	for _, w := range list {
		out = append(out, w.ID)
	}
	return strings.Join(out, ",")
}
