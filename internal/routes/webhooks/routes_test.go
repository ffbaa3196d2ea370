package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

var secretPattern = regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`)

func TestWebhookLifecycle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Headers: w.asOwner(),
			Body: map[string]any{"level": "org", "url": "https://hooks.example.com/in", "events": []string{"run.success", "run.failed", "run.success"}}})
		if res.Status != 201 {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		var raw map[string]any
		res.JSON(t, &raw)
		for _, k := range []string{"id", "object", "level", "applicationId", "url", "events", "packageId", "payloadMode", "enabled", "createdAt", "updatedAt", "secret"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("creation response lacks %q: %s", k, res.Body)
			}
		}
		if len(raw) != 12 {
			t.Errorf("creation response has %d members: %s", len(raw), res.Body)
		}
		var created wire
		res.JSON(t, &created)
		if !strings.HasPrefix(created.ID, "wh_") || created.Object != "webhook" || created.Level != "org" || created.ApplicationID != nil ||
			created.PackageID != nil || created.PayloadMode != "full" || !created.Enabled || !secretPattern.MatchString(created.Secret) ||
			strings.Join(created.Events, ",") != "run.success,run.failed" || !strings.HasSuffix(created.CreatedAt, "Z") {
			t.Fatalf("created: %+v", created)
		}

		// The secret is shown once and stored encrypted.
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner()})
		if res.Status != 200 || strings.Contains(string(res.Body), "secret") {
			t.Fatalf("get: %d %s", res.Status, res.Body)
		}
		var stored string
		if err := e.DB.QueryRowContext(context.Background(), `SELECT secret_encrypted FROM webhooks WHERE id = ?`, created.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, created.Secret[6:]) {
			t.Fatalf("secret stored as %q", stored)
		}

		appLevel := w.create(t, w.asOwner(), appHook(w.app2, "https://hooks.example.com/app2", "run.started"))
		if appLevel.Level != "application" || appLevel.ApplicationID == nil || *appLevel.ApplicationID != w.app2 {
			t.Fatalf("app-level: %+v", appLevel)
		}

		list := func(query string) []wire {
			t.Helper()
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks" + query, Headers: w.asOwner()})
			if res.Status != 200 {
				t.Fatalf("list %s: %d %s", query, res.Status, res.Body)
			}
			var l struct {
				Object  string
				Data    []wire
				HasMore bool
			}
			res.JSON(t, &l)
			if l.Object != "list" || l.HasMore || strings.Contains(string(res.Body), "whsec_") {
				t.Fatalf("list %s: %s", query, res.Body)
			}
			return l.Data
		}
		// Newest first; two webhooks created within the same millisecond come in id order.
		both := appLevel.ID + "," + created.ID
		if appLevel.CreatedAt == created.CreatedAt && appLevel.ID < created.ID {
			both = created.ID + "," + appLevel.ID
		}
		for _, tt := range []struct{ query, want string }{
			{"", created.ID},
			{"?applicationId=" + w.app2, both},
			{"?applicationId=" + w.app, created.ID},
			{"?all=true", both},
		} {
			if got := idsOf(list(tt.query)); got != tt.want {
				t.Errorf("list %q = %s, want %s", tt.query, got, tt.want)
			}
		}
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks?applicationId=" + w.otherApp, Headers: w.asOwner()})
		if res.Status != 404 {
			t.Fatalf("list with another org's application: %d %s", res.Status, res.Body)
		}

		// Update: partial, packageId set then removed; level and applicationId are immutable.
		pkg := "@acme/hello-world"
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner(),
			Body: map[string]any{"url": "https://hooks.example.com/v2", "events": []string{"run.timeout"}, "payloadMode": "summary",
				"enabled": false, "packageId": pkg, "level": "org"}})
		var updated wire
		res.JSON(t, &updated)
		if res.Status != 200 || updated.URL != "https://hooks.example.com/v2" || strings.Join(updated.Events, ",") != "run.timeout" ||
			updated.PayloadMode != "summary" || updated.Enabled || updated.PackageID == nil || *updated.PackageID != pkg ||
			updated.CreatedAt != created.CreatedAt || updated.Secret != "" {
			t.Fatalf("update: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "PUT", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner(),
			Body: map[string]any{"packageId": nil}})
		res.JSON(t, &updated)
		if res.Status != 200 || updated.PackageID != nil || updated.URL != "https://hooks.example.com/v2" || updated.Enabled {
			t.Fatalf("clear package: %d %s", res.Status, res.Body)
		}
		for _, body := range []map[string]any{{"level": "application"}, {"applicationId": w.app}} {
			res = e.Do(apptest.Request{Method: "PUT", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner(), Body: body})
			if res.Status != 400 || res.Problem(t).Code != "validation_failed" {
				t.Fatalf("update %v: %d %s", body, res.Status, res.Body)
			}
		}

		if res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner()}); res.Status != 204 {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
		if res = e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks/" + created.ID, Headers: w.asOwner()}); res.Status != 404 {
			t.Fatalf("get after delete: %d %s", res.Status, res.Body)
		}
		var actions []string
		rows, err := e.DB.QueryContext(context.Background(), `SELECT action FROM audit_events WHERE resource_id = ? ORDER BY id`, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a string
			_ = rows.Scan(&a)
			actions = append(actions, a)
		}
		_ = rows.Close()
		if got := strings.Join(actions, ","); got != "webhook.created,webhook.updated,webhook.updated,webhook.deleted" {
			t.Fatalf("audit trail: %s", got)
		}
		if strings.Contains(e.Logs.String(), created.Secret) {
			t.Fatal("the secret appears in the logs")
		}
	})
}

func TestWebhookValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		good := func(mut func(b map[string]any)) map[string]any {
			b := orgHook("https://hooks.example.com/in")
			mut(b)
			return b
		}
		tests := []struct {
			name       string
			body       map[string]any
			production bool
			field      string
		}{
			{"plain http to a public host", good(func(b map[string]any) { b["url"] = "http://hooks.example.com/in" }), false, "url"},
			{"private address", good(func(b map[string]any) { b["url"] = "https://10.1.2.3/in" }), false, "url"},
			{"metadata address", good(func(b map[string]any) { b["url"] = "https://169.254.169.254/" }), false, "url"},
			{"localhost in production", good(func(b map[string]any) { b["url"] = "http://localhost:3000/in" }), true, "url"},
			{"https 127.0.0.1 in production", good(func(b map[string]any) { b["url"] = "https://127.0.0.1/in" }), true, "url"},
			{"not a URL", good(func(b map[string]any) { b["url"] = "hooks.example.com" }), false, "url"},
			{"credentials in the URL", good(func(b map[string]any) { b["url"] = "https://u:p@hooks.example.com/" }), false, "url"},
			{"no event", good(func(b map[string]any) { b["events"] = []string{} }), false, "events"},
			{"unknown event", good(func(b map[string]any) { b["events"] = []string{"run.success", "test.ping"} }), false, "events[1]"},
			{"no level", good(func(b map[string]any) { delete(b, "level") }), false, "level"},
			{"unknown level", good(func(b map[string]any) { b["level"] = "instance" }), false, "level"},
			{"application level without applicationId", good(func(b map[string]any) { b["level"] = "application" }), false, "applicationId"},
			{"org level with applicationId", good(func(b map[string]any) { b["applicationId"] = w.app }), false, "applicationId"},
			{"unknown package", good(func(b map[string]any) { b["packageId"] = "@acme/nope" }), false, "packageId"},
			{"another org's package", good(func(b map[string]any) { b["packageId"] = "@globex/hello-world" }), false, "packageId"},
			{"malformed package", good(func(b map[string]any) { b["packageId"] = "acme/x" }), false, "packageId"},
			{"unknown payload mode", good(func(b map[string]any) { b["payloadMode"] = "tiny" }), false, "payloadMode"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.App.Webhooks.AllowLocal = !tt.production
				defer func() { e.App.Webhooks.AllowLocal = true }()
				res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Headers: w.newAdmin(), Body: tt.body})
				if res.Status != 400 {
					t.Fatalf("%d %s", res.Status, res.Body)
				}
				p := res.Problem(t)
				if p.Code != "validation_failed" || len(p.Errors) == 0 || p.Errors[0].Field != tt.field {
					t.Fatalf("problem %s, want field %s", res.Body, tt.field)
				}
			})
		}
		// Accepted outside production: a local receiver, with or without https; a package of the org.
		for _, body := range []map[string]any{
			good(func(b map[string]any) { b["url"] = "http://localhost:4000/hook" }),
			good(func(b map[string]any) { b["url"] = "http://[::1]:4000/hook" }),
			good(func(b map[string]any) {
				b["packageId"] = "@acme/hello-world"
				b["payloadMode"] = "summary"
				b["enabled"] = false
			}),
		} {
			got := w.create(t, w.newAdmin(), body)
			if body["payloadMode"] == "summary" && (got.PayloadMode != "summary" || got.Enabled || *got.PackageID != "@acme/hello-world") {
				t.Fatalf("created %+v", got)
			}
		}
		// Update re-validates the URL.
		hook := w.create(t, w.newAdmin(), orgHook("https://hooks.example.com/x"))
		res := e.Do(apptest.Request{Method: "PUT", Path: "/api/webhooks/" + hook.ID, Headers: w.asOwner(),
			Body: map[string]any{"url": "https://192.168.0.10/x"}})
		if res.Status != 400 || res.Problem(t).Errors[0].Field != "url" {
			t.Fatalf("update to a private address: %d %s", res.Status, res.Body)
		}
		// Creation is limited to 10 per minute and caller.
		h := w.newAdmin()
		for i := 1; i <= 11; i++ {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Headers: h, Body: map[string]any{"level": "org"}})
			if want := map[bool]int{true: 429, false: 400}[i == 11]; res.Status != want {
				t.Fatalf("creation %d: %d %s", i, res.Status, res.Body)
			}
		}
	})
}

func TestWebhookTenancy(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		orgLevel := w.create(t, w.asOwner(), orgHook("https://hooks.example.com/org"))
		app2Level := w.create(t, w.asOwner(), appHook(w.app2, "https://hooks.example.com/app2"))
		keyLevel := w.create(t, w.asKey(), appHook(w.app, "https://hooks.example.com/key"))
		theirs := w.create(t, w.asOther(), orgHook("https://hooks.example.com/globex"))

		type step struct {
			name    string
			method  string
			path    string
			body    any
			headers http.Header
			status  int
			code    string
		}
		var steps []step
		for _, id := range []string{theirs.ID, "wh_00000000-0000-4000-8000-000000000000"} {
			for _, op := range []struct{ method, suffix string }{{"GET", ""}, {"PUT", ""}, {"DELETE", ""}, {"POST", "/test"},
				{"POST", "/rotate"}, {"GET", "/deliveries"}} {
				var body any
				if op.method == "PUT" {
					body = map[string]any{"enabled": false}
				}
				steps = append(steps, step{"owner " + op.method + op.suffix + " of " + id[:6], op.method, "/api/webhooks/" + id + op.suffix,
					body, w.asOwner(), 404, "not_found"})
			}
		}
		steps = append(steps,
			step{"member cannot list", "GET", "/api/webhooks", nil, w.asMember(), 403, "forbidden"},
			step{"member cannot create", "POST", "/api/webhooks", orgHook("https://hooks.example.com/m"), w.asMember(), 403, "forbidden"},
			step{"member cannot read one", "GET", "/api/webhooks/" + orgLevel.ID, nil, w.asMember(), 403, "forbidden"},
			step{"member cannot delete", "DELETE", "/api/webhooks/" + orgLevel.ID, nil, w.asMember(), 403, "forbidden"},
			step{"no X-Org-Id", "GET", "/api/webhooks", nil, apptest.As(w.owner, "", ""), 400, "invalid_request"},
			step{"unauthenticated", "GET", "/api/webhooks", nil, nil, 401, "unauthorized"},
			step{"key cannot create org-level", "POST", "/api/webhooks", orgHook("https://hooks.example.com/k"), w.asKey(), 403, "forbidden"},
			step{"key cannot create for another app", "POST", "/api/webhooks", appHook(w.app2, "https://hooks.example.com/k"), w.asKey(), 403, "forbidden"},
			step{"key cannot list another app", "GET", "/api/webhooks?applicationId=" + w.app2, nil, w.asKey(), 403, "forbidden"},
			step{"key cannot read org-level", "GET", "/api/webhooks/" + orgLevel.ID, nil, w.asKey(), 404, "not_found"},
			step{"key cannot update another app's", "PUT", "/api/webhooks/" + app2Level.ID, map[string]any{"enabled": false}, w.asKey(), 404, "not_found"},
			step{"key cannot rotate org-level", "POST", "/api/webhooks/" + orgLevel.ID + "/rotate", nil, w.asKey(), 404, "not_found"},
			step{"owner cannot create for another org's app", "POST", "/api/webhooks", appHook(w.otherApp, "https://hooks.example.com/x"), w.asOwner(), 404, "not_found"},
			step{"key reads its app's", "GET", "/api/webhooks/" + keyLevel.ID, nil, w.asKey(), 200, ""},
			step{"owner reads the key's", "GET", "/api/webhooks/" + keyLevel.ID, nil, w.asOwner(), 200, ""},
		)
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				res := e.Do(apptest.Request{Method: s.method, Path: s.path, Body: s.body, Headers: s.headers})
				if res.Status != s.status {
					t.Fatalf("%d, want %d: %s", res.Status, s.status, res.Body)
				}
				if s.code != "" && res.Problem(t).Code != s.code {
					t.Fatalf("code %s, want %s", res.Problem(t).Code, s.code)
				}
			})
		}
		// The key lists its application's webhooks only, whatever the query.
		for _, q := range []string{"", "?all=true", "?applicationId=" + w.app} {
			res := e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks" + q, Headers: w.asKey()})
			var l struct{ Data []wire }
			res.JSON(t, &l)
			if res.Status != 200 || idsOf(l.Data) != keyLevel.ID {
				t.Fatalf("key list %q: %d %s", q, res.Status, res.Body)
			}
		}
		// globex sees its own only.
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/webhooks?all=true", Headers: w.asOther()})
		var l struct{ Data []wire }
		res.JSON(t, &l)
		if idsOf(l.Data) != theirs.ID {
			t.Fatalf("globex list: %s", res.Body)
		}
		// Nothing of acme was changed by the refused calls.
		var n int
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM webhooks WHERE enabled = ?`, true).Scan(&n)
		if n != 4 {
			t.Fatalf("%d enabled webhooks, want 4", n)
		}
	})
}

func TestWebhookLimits(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		ctx := context.Background()
		fill := func(level, app string) {
			for i := 0; i < webhooks.MaxPerScope; i++ {
				_, err := e.App.Webhooks.Create(ctx, webhooks.Scope{OrgID: w.org}, webhooks.NewWebhook{Level: level, ApplicationID: app,
					URL: "https://hooks.example.com/in", Events: []string{"run.success"}}, audit.Event{ActorType: audit.ActorSystem})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		limited := func(body map[string]any, h http.Header) {
			t.Helper()
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Body: body, Headers: h})
			if res.Status != 400 || res.Problem(t).Code != "webhook_limit_reached" {
				t.Fatalf("21st webhook: %d %s", res.Status, res.Body)
			}
		}
		fill("org", "")
		limited(orgHook("https://hooks.example.com/21"), w.asOwner())
		w.create(t, w.asOwner(), appHook(w.app, "https://hooks.example.com/app")) // application scopes are separate
		w.create(t, w.asOther(), orgHook("https://hooks.example.com/globex"))     // and so are other organizations
		fill("application", w.app2)
		limited(appHook(w.app2, "https://hooks.example.com/21"), w.asOwner())
		w.create(t, w.asKey(), appHook(w.app, "https://hooks.example.com/app-2"))
	})
}

func TestWebhookIdempotency(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		h := w.asOwner()
		h.Set("Idempotency-Key", "create-hook-1")
		body := orgHook("https://hooks.example.com/idem")
		first := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Body: body, Headers: h})
		second := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Body: body, Headers: h})
		if first.Status != 201 || second.Status != 201 || second.Header.Get("Idempotent-Replayed") != "true" ||
			string(first.Body) != string(second.Body) {
			t.Fatalf("replay: %d %d %s / %s", first.Status, second.Status, first.Body, second.Body)
		}
		body["url"] = "https://hooks.example.com/other"
		if res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks", Body: body, Headers: h}); res.Status != 422 {
			t.Fatalf("different body: %d %s", res.Status, res.Body)
		}
		var n int
		_ = e.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM webhooks`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d webhooks, want 1", n)
		}
	})
}

func TestWebhookRotateRoute(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := newWorld(t, e)
		hook := w.create(t, w.asOwner(), orgHook("https://hooks.example.com/rot"))
		rotate := func(body any) (int, map[string]any) {
			res := e.Do(apptest.Request{Method: "POST", Path: "/api/webhooks/" + hook.ID + "/rotate", Body: body, Headers: w.asOwner()})
			var out map[string]any
			_ = json.Unmarshal(res.Body, &out)
			return res.Status, out
		}
		before := time.Now()
		status, out := rotate(nil)
		if status != 200 || len(out) != 3 || out["secretPrevious"] != hook.Secret || !secretPattern.MatchString(out["secret"].(string)) ||
			out["secret"] == hook.Secret {
			t.Fatalf("rotate: %d %v", status, out)
		}
		ends, err := time.Parse(time.RFC3339, out["rotationWindowEndsAt"].(string))
		if err != nil || ends.Before(before.Add(7*24*time.Hour-time.Second)) || ends.After(time.Now().Add(7*24*time.Hour+time.Second)) {
			t.Fatalf("window ends at %v (%v), want in 7 days", out["rotationWindowEndsAt"], err)
		}
		// Rotating again within the window replaces the pending secret; the current one stays.
		status, again := rotate(map[string]any{"windowSeconds": 3600})
		if status != 200 || again["secretPrevious"] != hook.Secret || again["secret"] == out["secret"] {
			t.Fatalf("second rotation: %d %v", status, again)
		}
		ends, _ = time.Parse(time.RFC3339, again["rotationWindowEndsAt"].(string))
		if ends.After(time.Now().Add(time.Hour + time.Second)) {
			t.Fatalf("window of 1 h ends at %v", ends)
		}
		for _, bad := range []any{map[string]any{"windowSeconds": 30*24*3600 + 1}, map[string]any{"windowSeconds": -1}} {
			if status, out := rotate(bad); status != 400 || out["code"] != "validation_failed" {
				t.Fatalf("rotate %v: %d %v", bad, status, out)
			}
		}
	})
}
