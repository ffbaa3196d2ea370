package notifications_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestUnreadRuns(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		user := e.SeedUser("owner@acme.test")
		other := e.SeedUser("other@acme.test")
		org, app := e.SeedOrg(user, "acme")
		e.SeedMember(org, other, "member")
		now := isotime.Now()
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
			VALUES ('@acme/a', ?, 'agent', 'local', '{}', '', ?, ?), ('@acme/b', ?, 'agent', 'local', '{}', '', ?, ?)`,
			org, now, now, org, now, now); err != nil {
			t.Fatal(err)
		}
		run := func(id, pkg, userID string, notified bool) {
			var at any
			if notified {
				at = now
			}
			if _, err := e.DB.ExecContext(ctx, `INSERT INTO runs (id, package_id, user_id, application_id, org_id, status,
				timeout_seconds, started_at, created_at, notified_at) VALUES (?, ?, ?, ?, ?, 'success', 30, ?, ?, ?)`,
				id, pkg, userID, app, org, now, now, at); err != nil {
				t.Fatal(err)
			}
		}
		run("run_00000000-0000-4000-8000-000000000001", "@acme/a", user, true)
		run("run_00000000-0000-4000-8000-000000000002", "@acme/a", user, true)
		run("run_00000000-0000-4000-8000-000000000003", "@acme/b", user, true)
		run("run_00000000-0000-4000-8000-000000000004", "@acme/b", user, false) // still running: not a notification
		run("run_00000000-0000-4000-8000-000000000005", "@acme/b", other, true) // someone else's
		h := apptest.As(user, org, app)

		count := func() float64 {
			return get(t, e, "/api/notifications/unread-count", h)["count"].(float64)
		}
		if n := count(); n != 3 {
			t.Fatalf("unread = %v, want 3", n)
		}
		counts := get(t, e, "/api/notifications/unread-counts-by-agent", h)["counts"].(map[string]any)
		if counts["@acme/a"] != float64(2) || counts["@acme/b"] != float64(1) || len(counts) != 2 {
			t.Fatalf("counts = %v", counts)
		}
		put(t, e, "/api/notifications/read/run_00000000-0000-4000-8000-000000000001", h, http.StatusOK)
		if n := count(); n != 2 {
			t.Fatalf("unread after one read = %v, want 2", n)
		}
		// Another user's run is not found for this actor.
		put(t, e, "/api/notifications/read/run_00000000-0000-4000-8000-000000000005", h, http.StatusNotFound)
		if got := put(t, e, "/api/notifications/read-all", h, http.StatusOK); got["updated"] != float64(2) || count() != 0 {
			t.Fatalf("read-all = %v", got)
		}
		// The other member still has theirs.
		if got := get(t, e, "/api/notifications/unread-count", apptest.As(other, org, app)); got["count"] != float64(1) {
			t.Fatalf("other's unread = %v", got)
		}
	})
}

func get(t *testing.T, e *apptest.Env, path string, h http.Header) map[string]any {
	t.Helper()
	return do(t, e, http.MethodGet, path, h, http.StatusOK)
}

func put(t *testing.T, e *apptest.Env, path string, h http.Header, want int) map[string]any {
	t.Helper()
	return do(t, e, http.MethodPut, path, h, want)
}

func do(t *testing.T, e *apptest.Env, method, path string, h http.Header, want int) map[string]any {
	t.Helper()
	r := e.Do(apptest.Request{Method: method, Path: path, Headers: h})
	if r.Status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	var m map[string]any
	r.JSON(t, &m)
	return m
}
