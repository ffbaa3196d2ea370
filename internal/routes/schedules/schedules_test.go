package schedules_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/apptest"
	"github.com/appstrate/appstrate-go/internal/cron"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/jobs"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/schedules"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const echoManifest = `{"name":"@acme/echo","version":"1.0.0","type":"agent",
 "input":{"schema":{"type":"object","properties":{"topic":{"type":"string"}},"required":["topic"]}},
 "config":{"schema":{"type":"object","properties":{"tone":{"type":"string","enum":["calm","loud"],"default":"calm"}}}}}`

const fileManifest = `{"name":"@acme/reader","version":"1.0.0","type":"agent",
 "input":{"schema":{"type":"object","properties":{"doc":{"type":"string","format":"uri","contentMediaType":"application/pdf"},
  "note":{"type":"string"}}}}}`

// crmManifest declares a provider that no application enables: its fires are never ready.
const crmManifest = `{"name":"@acme/crm-sync","version":"1.0.0","type":"agent",
 "dependencies":{"providers":{"@acme/crm":"^1.0.0"}}}`

// world is an org with @acme/echo installed in its default app, the owner's profile, an app profile and a
// profile of another member.
type world struct {
	e                      *apptest.Env
	user, org, app         string
	h                      http.Header
	userProfile            string
	appProfile             string
	otherUser, otherProfle string
}

func exec(t *testing.T, e *apptest.Env, q string, args ...any) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func installAgent(t *testing.T, e *apptest.Env, org, app, id, manifest string) {
	t.Helper()
	now := isotime.Now()
	exec(t, e, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content, created_at, updated_at)
		VALUES (?, ?, 'agent', 'local', ?, 'Do it.', ?, ?)`, id, org, manifest, now, now)
	exec(t, e, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?)`, app, id, true, now, now)
}

func profile(t *testing.T, e *apptest.Env, column, owner, name string) string {
	t.Helper()
	id := ids.UUID()
	now := isotime.Now()
	exec(t, e, `INSERT INTO connection_profiles (id, `+column+`, name, is_default, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, owner, name, false, now, now)
	return id
}

func setup(t *testing.T, e *apptest.Env) world {
	t.Helper()
	registerWorkers(t, e)
	w := world{e: e}
	w.user = e.SeedUser("ada@acme.test")
	w.org, w.app = e.SeedOrg(w.user, "acme")
	w.h = apptest.As(w.user, w.org, w.app)
	installAgent(t, e, w.org, w.app, "@acme/echo", echoManifest)
	w.userProfile = profile(t, e, "user_id", w.user, "Work")
	w.appProfile = profile(t, e, "application_id", w.app, "Shared")
	w.otherUser = e.SeedUser("bob@acme.test")
	e.SeedMember(w.org, w.otherUser, "member")
	w.otherProfle = profile(t, e, "user_id", w.otherUser, "Bob's")
	return w
}

// member returns the headers of a new member of the org (each caller has its own creation rate limit).
func (w world) member(t *testing.T) http.Header {
	t.Helper()
	id := w.e.SeedUser(ids.UUID() + "@acme.test")
	w.e.SeedMember(w.org, id, "member")
	return apptest.As(id, w.org, w.app)
}

func (w world) do(t *testing.T, method, path string, body any) *apptest.Response {
	t.Helper()
	return w.e.Do(apptest.Request{Method: method, Path: path, Body: body, Headers: w.h})
}

func (w world) create(t *testing.T, body map[string]any) schedules.Schedule {
	t.Helper()
	res := w.do(t, "POST", "/api/agents/@acme/echo/schedules", body)
	if res.Status != 201 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	var sc schedules.Schedule
	res.JSON(t, &sc)
	return sc
}

func (w world) body(extra map[string]any) map[string]any {
	b := map[string]any{"connectionProfileId": w.userProfile, "cronExpression": "*/5 * * * *", "input": map[string]any{"topic": "news"}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func count(t *testing.T, e *apptest.Env, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestScheduleLifecycle(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		before := time.Now()
		sc := w.create(t, w.body(map[string]any{"name": "  Morning news ", "cronExpression": "30 2 * * *",
			"timezone": "Europe/Paris", "configOverride": map[string]any{"tone": "loud"}}))
		want, _ := schedules.NextRun("30 2 * * *", "Europe/Paris", before)
		if !ids.Valid(sc.ID, ids.Schedule) || sc.PackageID != "@acme/echo" || !sc.Enabled || sc.Name == nil || *sc.Name != "Morning news" ||
			sc.Timezone != "Europe/Paris" || sc.OrgID != w.org || sc.ApplicationID != w.app || sc.ConnectionProfileID != w.userProfile ||
			!sc.NextRunAt.Equal(want) || !sc.LastRunAt.IsZero() || string(sc.ConfigOverride) != `{"tone":"loud"}` {
			t.Fatalf("created %+v (want next %s)", sc, want)
		}
		if w.create(t, w.body(nil)).Timezone != "UTC" {
			t.Fatal("default timezone")
		}

		// GET forms: profile and readiness (the agent declares no provider).
		res := w.do(t, "GET", "/api/schedules/"+sc.ID, nil)
		var d schedules.ScheduleDetail
		res.JSON(t, &d)
		if res.Status != 200 || d.ProfileName != "Work" || d.ProfileType != "user" || d.ProfileOwnerName == nil || *d.ProfileOwnerName != "ada" ||
			d.Readiness.Status != "ready" || d.Readiness.TotalProviders != 0 || d.Readiness.MissingProviders == nil {
			t.Fatalf("get: %d %s", res.Status, res.Body)
		}
		for _, path := range []string{"/api/schedules", "/api/agents/@acme/echo/schedules"} {
			res := w.do(t, "GET", path, nil)
			var list []schedules.ScheduleDetail
			res.JSON(t, &list)
			if res.Status != 200 || len(list) != 2 || list[0].ID != sc.ID {
				t.Fatalf("%s: %d %s", path, res.Status, res.Body)
			}
		}

		// Pause, resume, reschedule, clear.
		res = w.do(t, "PUT", "/api/schedules/"+sc.ID, map[string]any{"enabled": false})
		var up schedules.Schedule
		res.JSON(t, &up)
		if res.Status != 200 || up.Enabled || !up.NextRunAt.IsZero() || up.CronExpression != "30 2 * * *" {
			t.Fatalf("pause: %d %s", res.Status, res.Body)
		}
		res = w.do(t, "PUT", "/api/schedules/"+sc.ID, map[string]any{"enabled": true})
		res.JSON(t, &up)
		if !up.Enabled || up.NextRunAt.IsZero() {
			t.Fatalf("resume: %s", res.Body)
		}
		res = w.do(t, "PUT", "/api/schedules/"+sc.ID, map[string]any{"cronExpression": "@hourly", "timezone": "America/New_York",
			"name": nil, "configOverride": nil, "input": map[string]any{"topic": "sport"}, "connectionProfileId": w.appProfile})
		res.JSON(t, &up)
		if res.Status != 200 || up.CronExpression != "@hourly" || up.Name != nil || string(up.ConfigOverride) != "null" ||
			string(up.Input) != `{"topic":"sport"}` || up.ConnectionProfileID != w.appProfile ||
			time.Until(up.NextRunAt.Time) > time.Hour || up.NextRunAt.Minute() != 0 {
			t.Fatalf("update: %d %s", res.Status, res.Body)
		}
		res = w.do(t, "GET", "/api/schedules/"+sc.ID, nil)
		res.JSON(t, &d)
		if d.ProfileType != "app" || d.ProfileName != "Shared" || *d.ProfileOwnerName != "Default" {
			t.Fatalf("app profile: %s", res.Body)
		}
		res = w.do(t, "PUT", "/api/schedules/"+sc.ID, map[string]any{"name": "renamed"})
		var renamed schedules.Schedule
		res.JSON(t, &renamed)
		if !renamed.NextRunAt.Equal(up.NextRunAt) || *renamed.Name != "renamed" {
			t.Fatalf("a rename moved the next run: %s", res.Body)
		}

		// Delete.
		res = w.do(t, "DELETE", "/api/schedules/"+sc.ID, nil)
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"ok":true}` {
			t.Fatalf("delete: %d %s", res.Status, res.Body)
		}
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			res := w.do(t, m, "/api/schedules/"+sc.ID, map[string]any{})
			if res.Status != 404 || res.Problem(t).Code != "schedule_not_found" {
				t.Fatalf("%s after delete: %d %s", m, res.Status, res.Body)
			}
		}
		for action, n := range map[string]int{"schedule.created": 2, "schedule.updated": 4, "schedule.deleted": 1} {
			if got := count(t, e, `SELECT count(*) FROM audit_events WHERE action = ? AND org_id = ?`, action, w.org); got != n {
				t.Fatalf("%s: %d audit rows, want %d", action, got, n)
			}
		}
	})
}

func TestScheduleValidation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		installAgent(t, e, w.org, w.app, "@acme/reader", fileManifest)
		now := isotime.Now()
		exec(t, e, `INSERT INTO package_versions (package_id, version, integrity, artifact_size, manifest, created_at)
			VALUES ('@acme/echo', '1.0.0', 'sha256-x', 1, ?, ?)`, echoManifest, now)
		cases := []struct {
			name   string
			path   string
			body   map[string]any
			status int
			code   string
			field  string
			detail string
		}{
			{"cron field out of range", "", map[string]any{"cronExpression": "61 * * * *"}, 400, "validation_failed", "cronExpression", "minute field"},
			{"cron with six fields", "", map[string]any{"cronExpression": "0 0 * * * *"}, 400, "validation_failed", "cronExpression", "expected 5 fields"},
			{"cron day of week name", "", map[string]any{"cronExpression": "0 9 * * FUNDAY"}, 400, "validation_failed", "cronExpression", "day-of-week field"},
			{"cron never fires", "", map[string]any{"cronExpression": "0 0 30 2 *"}, 400, "validation_failed", "cronExpression", "never fires"},
			{"empty cron", "", map[string]any{"cronExpression": ""}, 400, "validation_failed", "cronExpression", ""},
			{"unknown time zone", "", map[string]any{"timezone": "Mars/Olympus"}, 400, "validation_failed", "timezone", "Mars/Olympus"},
			{"host time zone", "", map[string]any{"timezone": "Local"}, 400, "validation_failed", "timezone", ""},
			{"input misses a field", "", map[string]any{"input": map[string]any{}}, 400, "validation_failed", "input.topic", ""},
			{"input wrong type", "", map[string]any{"input": map[string]any{"topic": 3}}, 400, "validation_failed", "input.topic", ""},
			{"config override invalid", "", map[string]any{"configOverride": map[string]any{"tone": "shrill"}}, 400, "validation_failed", "configOverride.tone", ""},
			{"unknown version", "", map[string]any{"versionOverride": "9.9.9"}, 400, "validation_failed", "versionOverride", ""},
			{"name too long", "", map[string]any{"name": strings.Repeat("n", 201)}, 400, "validation_failed", "name", ""},
			{"profile of another member", "", map[string]any{"connectionProfileId": w.otherProfle}, 403, "forbidden", "", ""},
			{"profile that does not exist", "", map[string]any{"connectionProfileId": ids.UUID()}, 403, "forbidden", "", ""},
			{"profile id not a uuid", "", map[string]any{"connectionProfileId": "nope"}, 400, "validation_failed", "connectionProfileId", ""},
			{"missing profile", "", map[string]any{"connectionProfileId": nil}, 400, "validation_failed", "connectionProfileId", ""},
			{"unknown agent", "/api/agents/@acme/nope/schedules", nil, 404, "agent_not_found", "", ""},
			{"file input agent", "/api/agents/@acme/reader/schedules", map[string]any{"input": map[string]any{"note": "x"}}, 400, "validation_failed", "input.doc", "file inputs"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				body := w.body(c.body)
				for k, v := range c.body {
					if v == nil {
						delete(body, k)
					}
				}
				if _, ok := c.body["connectionProfileId"]; !ok {
					body["connectionProfileId"] = w.appProfile
				}
				path := c.path
				if path == "" {
					path = "/api/agents/@acme/echo/schedules"
				}
				res := e.Do(apptest.Request{Method: "POST", Path: path, Body: body, Headers: w.member(t)})
				if res.Status != c.status {
					t.Fatalf("%d %s", res.Status, res.Body)
				}
				p := res.Problem(t)
				if p.Code != c.code || c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) ||
					!strings.Contains(problemText(p), c.detail) {
					t.Fatalf("problem %s", res.Body)
				}
			})
		}
		// Accepted: a version and a dist-tag, null overrides, an app profile, a macro.
		exec(t, e, `INSERT INTO package_dist_tags (package_id, tag, version_id, updated_at)
			SELECT package_id, 'stable', id, ? FROM package_versions WHERE package_id = '@acme/echo'`, now)
		for _, extra := range []map[string]any{{"versionOverride": "1.0.0"}, {"versionOverride": "stable"},
			{"modelIdOverride": nil, "proxyIdOverride": nil, "configOverride": nil, "versionOverride": nil, "name": nil},
			{"connectionProfileId": w.appProfile, "cronExpression": "@daily"}} {
			body := w.body(extra)
			if res := e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/echo/schedules", Body: body, Headers: w.h}); res.Status != 201 {
				t.Fatalf("%v: %d %s", extra, res.Status, res.Body)
			}
		}
		// The same rules on update.
		sc := w.create(t, w.body(nil))
		// Creation is limited to 10 per minute and caller: w.h has created 5.
		for i := 6; i <= 11; i++ {
			res := w.do(t, "POST", "/api/agents/@acme/echo/schedules", w.body(nil))
			if want := map[bool]int{true: 429, false: 201}[i == 11]; res.Status != want {
				t.Fatalf("creation %d: %d %s", i, res.Status, res.Body)
			}
		}
		for _, c := range []struct {
			body   map[string]any
			status int
			field  string
		}{
			{map[string]any{"cronExpression": "* * * * * *"}, 400, "cronExpression"},
			{map[string]any{"timezone": "Nowhere"}, 400, "timezone"},
			{map[string]any{"input": map[string]any{"topic": false}}, 400, "input.topic"},
			{map[string]any{"connectionProfileId": w.otherProfle}, 403, ""},
		} {
			res := w.do(t, "PUT", "/api/schedules/"+sc.ID, c.body)
			if res.Status != c.status || c.field != "" && res.Problem(t).Errors[0].Field != c.field {
				t.Fatalf("update %v: %d %s", c.body, res.Status, res.Body)
			}
		}
	})
}

func TestScheduleIsolation(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		sc := w.create(t, w.body(nil))
		stranger := e.SeedUser("eve@evil.test")
		org, app := e.SeedOrg(stranger, "evil")
		h := apptest.As(stranger, org, app)
		for _, r := range []struct{ method, path string }{{"GET", "/api/schedules/" + sc.ID}, {"PUT", "/api/schedules/" + sc.ID},
			{"DELETE", "/api/schedules/" + sc.ID}, {"GET", "/api/schedules/" + sc.ID + "/runs"}} {
			res := e.Do(apptest.Request{Method: r.method, Path: r.path, Body: map[string]any{}, Headers: h})
			if res.Status != 404 {
				t.Fatalf("%s %s: %d %s", r.method, r.path, res.Status, res.Body)
			}
		}
		res := e.Do(apptest.Request{Method: "GET", Path: "/api/schedules", Headers: h})
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != "[]" {
			t.Fatalf("foreign list: %d %s", res.Status, res.Body)
		}
		// Another application of the same org sees none of them.
		second := e.SeedApp(w.org, "Second")
		res = e.Do(apptest.Request{Method: "GET", Path: "/api/schedules", Headers: apptest.As(w.user, w.org, second)})
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != "[]" {
			t.Fatalf("other app list: %d %s", res.Status, res.Body)
		}
		// A viewer reads but cannot write.
		viewer := e.SeedUser("vic@acme.test")
		e.SeedMember(w.org, viewer, "viewer")
		vh := apptest.As(viewer, w.org, w.app)
		if res := e.Do(apptest.Request{Method: "GET", Path: "/api/schedules/" + sc.ID, Headers: vh}); res.Status != 200 {
			t.Fatalf("viewer get: %d", res.Status)
		}
		if res := e.Do(apptest.Request{Method: "PUT", Path: "/api/schedules/" + sc.ID, Body: map[string]any{"enabled": false}, Headers: vh}); res.Status != 403 {
			t.Fatalf("viewer put: %d", res.Status)
		}
	})
}

// fireSchedule creates a schedule and returns its id and stored next run.
func fireSchedule(t *testing.T, w world, body map[string]any) (string, time.Time) {
	t.Helper()
	sc := w.create(t, w.body(body))
	return sc.ID, sc.NextRunAt.Time
}

// registerWorkers creates River's tables and registers the run and fire workers, as app.New does: River refuses to insert a job whose
// kind has no worker.
func registerWorkers(t *testing.T, e *apptest.Env) {
	t.Helper()
	if err := jobs.Migrate(t.Context(), e.DB, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Runs.RegisterWorker(e.App.Jobs); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Schedules.RegisterWorker(e.App.Jobs); err != nil {
		t.Fatal(err)
	}
}

// alignSlots gives every schedule the same next slot (the next whole minute) and returns it, so that
// schedules created on both sides of a minute boundary fire together.
func alignSlots(t *testing.T, e *apptest.Env) time.Time {
	t.Helper()
	slot := time.Now().Truncate(time.Minute).Add(time.Minute)
	exec(t, e, `UPDATE package_schedules SET next_run_at = ?`, isotime.From(slot))
	return slot
}

// clock is a controllable time shared by several services.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

// TestFireExactlyOnce: four platforms on one database fire the same schedules at the same time; every slot
// gives exactly one run, and slots missed while nothing ran fire once.
func TestFireExactlyOnce(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		var scheds []string
		for i := range 5 {
			profile := w.userProfile
			if i%2 == 1 {
				profile = w.appProfile
			}
			id, _ := fireSchedule(t, w, map[string]any{"cronExpression": "* * * * *", "connectionProfileId": profile})
			scheds = append(scheds, id)
		}
		clk := &clock{t: alignSlots(t, e).Add(2 * time.Second)}
		platforms := []*schedules.Service{e.App.Schedules}
		for range 3 {
			other := apptest.New(t, e.DB, nil)
			registerWorkers(t, other)
			platforms = append(platforms, other.App.Schedules)
		}
		for _, p := range platforms {
			p.Now = clk.now
		}
		fireAll := func() {
			var wg sync.WaitGroup
			for _, p := range platforms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := p.FireDue(context.Background()); err != nil {
						t.Errorf("fire: %v", err)
					}
				}()
			}
			wg.Wait()
		}
		runsOf := func(id string) int {
			return count(t, e, `SELECT count(*) FROM runs WHERE schedule_id = ?`, id)
		}
		for minute := 1; minute <= 3; minute++ {
			fireAll()
			fireAll() // a second pass in the same minute fires nothing
			for _, id := range scheds {
				if n := runsOf(id); n != minute {
					t.Fatalf("minute %d: schedule %s has %d runs", minute, id, n)
				}
			}
			clk.add(time.Minute)
		}
		// Ten minutes without any fire: one run each, and the next slot is after now.
		clk.add(10 * time.Minute)
		fireAll()
		for _, id := range scheds {
			if n := runsOf(id); n != 4 {
				t.Fatalf("after downtime: schedule %s has %d runs", id, n)
			}
			var next, last isotime.Time
			if err := e.DB.QueryRowContext(t.Context(), `SELECT next_run_at, last_run_at FROM package_schedules WHERE id = ?`, id).Scan(&next, &last); err != nil {
				t.Fatal(err)
			}
			if !next.After(clk.now()) || next.Sub(clk.now()) > time.Minute || !last.Equal(isotime.From(clk.now())) {
				t.Fatalf("after downtime: next %s last %s now %s", next, last, clk.now())
			}
		}

		// The runs: pending with their job, as the profile's owner, naming the schedule and its profile.
		res := w.do(t, "GET", "/api/schedules/"+scheds[0]+"/runs?limit=3", nil)
		var page struct {
			Data    []runs.Run
			HasMore bool
			Total   int
		}
		res.JSON(t, &page)
		if res.Status != 200 || len(page.Data) != 3 || !page.HasMore || page.Total != 4 || !strings.Contains(res.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("schedule runs: %d %s", res.Status, res.Body)
		}
		r := page.Data[0]
		if r.Status != "pending" || r.UserID == nil || *r.UserID != w.user || r.ScheduleID == nil || *r.ScheduleID != scheds[0] ||
			r.ProfileID == nil || *r.ProfileID != w.userProfile || string(r.Input) != `{"topic":"news"}` || r.ScheduleName != nil {
			t.Fatalf("run %+v", r)
		}
		res = w.do(t, "GET", "/api/schedules/"+scheds[1]+"/runs", nil)
		res.JSON(t, &page)
		if len(page.Data) != 4 || page.Data[0].UserID != nil || *page.Data[0].ProfileID != w.appProfile {
			t.Fatalf("app-profile runs: %s", res.Body)
		}
		if n := count(t, e, `SELECT count(*) FROM runs WHERE job_id IS NULL`); n != 0 {
			t.Fatalf("%d runs without a job", n)
		}
	})
}

// TestFireFailures: a fire whose preflight fails records a failed run with the reason and moves on.
func TestFireFailures(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		installAgent(t, e, w.org, w.app, "@acme/crm-sync", crmManifest)
		res := w.do(t, "POST", "/api/agents/@acme/crm-sync/schedules", map[string]any{"connectionProfileId": w.userProfile,
			"cronExpression": "* * * * *", "name": "CRM"})
		if res.Status != 201 {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		var crm schedules.Schedule
		res.JSON(t, &crm)
		res = w.do(t, "GET", "/api/schedules/"+crm.ID, nil)
		var d schedules.ScheduleDetail
		res.JSON(t, &d)
		if d.Readiness.Status != "not_ready" || d.Readiness.TotalProviders != 1 || d.Readiness.ConnectedProviders != 0 ||
			len(d.Readiness.MissingProviders) != 1 || d.Readiness.MissingProviders[0] != "@acme/crm" {
			t.Fatalf("readiness: %s", res.Body)
		}
		echo, _ := fireSchedule(t, w, map[string]any{"cronExpression": "* * * * *"})
		// The agent's input schema changed after the schedule was written: its frozen input no longer fits.
		exec(t, e, `UPDATE packages SET draft_manifest = ? WHERE id = '@acme/echo'`,
			strings.Replace(echoManifest, `"required":["topic"]`, `"required":["topic","lang"]`, 1))

		clk := &clock{t: alignSlots(t, e).Add(2 * time.Second)}
		e.App.Schedules.Now = clk.now
		fired, err := e.App.Schedules.FireDue(t.Context())
		if err != nil || fired != 2 {
			t.Fatalf("fired %d, %v", fired, err)
		}
		for id, want := range map[string]string{crm.ID: "(provider_not_enabled)", echo: "Invalid input: input.lang"} {
			res := w.do(t, "GET", "/api/schedules/"+id+"/runs", nil)
			var page struct{ Data []runs.Run }
			res.JSON(t, &page)
			if len(page.Data) != 1 {
				t.Fatalf("%s: %s", id, res.Body)
			}
			r := page.Data[0]
			if r.Status != "failed" || r.Error == nil || !strings.Contains(*r.Error, want) || r.Duration == nil || *r.Duration != 0 ||
				!r.CompletedAt.Equal(r.StartedAt) || r.NotifiedAt.IsZero() || r.ScheduleID == nil || *r.ScheduleID != id {
				t.Fatalf("failed run of %s: %+v (error %v)", id, r, deref(r.Error))
			}
			if id == crm.ID && (r.ScheduleName == nil || *r.ScheduleName != "CRM") {
				t.Fatalf("schedule name %v", r.ScheduleName)
			}
			if n := count(t, e, `SELECT count(*) FROM run_logs WHERE run_id = ? AND event = 'run_completed' AND level = 'error'`, r.ID); n != 1 {
				t.Fatalf("run_completed rows: %d", n)
			}
		}
		// Fired once, not again until the next slot.
		if fired, err := e.App.Schedules.FireDue(t.Context()); err != nil || fired != 0 {
			t.Fatalf("second pass fired %d, %v", fired, err)
		}
		// A paused schedule does not fire.
		w.do(t, "PUT", "/api/schedules/"+crm.ID, map[string]any{"enabled": false})
		clk.add(time.Minute)
		if fired, err := e.App.Schedules.FireDue(t.Context()); err != nil || fired != 1 {
			t.Fatalf("third pass fired %d, %v", fired, err)
		}
		if n := count(t, e, `SELECT count(*) FROM runs WHERE schedule_id = ?`, crm.ID); n != 1 {
			t.Fatalf("paused schedule fired: %d runs", n)
		}
	})
}

func problemText(p httpapi.Problem) string {
	out := p.Detail
	for _, f := range p.Errors {
		out += " | " + f.Field + ": " + f.Message
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestDeleteCascade: deleting the agent, the application or the profile deletes the schedules; runs stay.
func TestDeleteCascade(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		byAgent, _ := fireSchedule(t, w, nil)
		clk := &clock{t: time.Now().Add(10 * time.Minute)}
		e.App.Schedules.Now = clk.now
		if _, err := e.App.Schedules.FireDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		res := w.do(t, "DELETE", "/api/packages/agents/@acme/echo", nil)
		if res.Status != 204 {
			t.Fatalf("delete agent: %d %s", res.Status, res.Body)
		}
		if n := count(t, e, `SELECT count(*) FROM package_schedules WHERE id = ?`, byAgent); n != 0 {
			t.Fatal("schedule survived its agent")
		}
		if n := count(t, e, `SELECT count(*) FROM runs WHERE schedule_id IS NULL AND package_id IS NULL`); n != 1 {
			t.Fatalf("runs of the deleted schedule: %d", n)
		}

		second := e.SeedApp(w.org, "Second")
		installAgent(t, e, w.org, second, "@acme/echo", echoManifest)
		sh := apptest.As(w.user, w.org, second)
		res = e.Do(apptest.Request{Method: "POST", Path: "/api/agents/@acme/echo/schedules", Headers: sh, Body: w.body(nil)})
		if res.Status != 201 {
			t.Fatalf("create in second app: %d %s", res.Status, res.Body)
		}
		res = e.Do(apptest.Request{Method: "DELETE", Path: "/api/applications/" + second, Headers: apptest.As(w.user, w.org, "")})
		if res.Status != 204 {
			t.Fatalf("delete app: %d %s", res.Status, res.Body)
		}
		if n := count(t, e, `SELECT count(*) FROM package_schedules`); n != 0 {
			t.Fatalf("%d schedules survived their application", n)
		}

		installAgent(t, e, w.org, w.app, "@acme/other", strings.Replace(echoManifest, "echo", "other", 1))
		res = w.do(t, "POST", "/api/agents/@acme/other/schedules", w.body(nil))
		if res.Status != 201 {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		res = w.do(t, "DELETE", "/api/connection-profiles/"+w.userProfile, nil)
		if res.Status != 200 {
			t.Fatalf("delete profile: %d %s", res.Status, res.Body)
		}
		if n := count(t, e, `SELECT count(*) FROM package_schedules`); n != 0 {
			t.Fatalf("%d schedules survived their profile", n)
		}
	})
}

// TestFireThroughTheJobQueue: the periodic job of a started job client (here a second platform on the same
// database) fires a due schedule, once however many fire jobs run.
func TestFireThroughTheJobQueue(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		id, _ := fireSchedule(t, w, map[string]any{"cronExpression": "* * * * *"})
		now := alignSlots(t, e).Add(time.Second)
		server := apptest.New(t, e.DB, nil).App
		server.Schedules.Now = func() time.Time { return now }
		server.Schedules.Interval = time.Second
		if err := server.Runs.RegisterWorker(server.Jobs); err != nil {
			t.Fatal(err)
		}
		if err := server.Schedules.RegisterWorker(server.Jobs); err != nil {
			t.Fatal(err)
		}
		if err := server.Jobs.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = server.Jobs.Stop(ctx)
		})
		for deadline := time.Now().Add(30 * time.Second); count(t, e, `SELECT count(*) FROM runs WHERE schedule_id = ?`, id) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the fire job never fired the schedule")
			}
		}
		// More fire jobs run with the same clock: still one run.
		fires := `SELECT count(*) FROM river_job WHERE kind = 'schedules_fire' AND state = 'completed'`
		for deadline, seen := time.Now().Add(30*time.Second), count(t, e, fires); count(t, e, fires) < seen+2; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no further fire job ran")
			}
		}
		if n := count(t, e, `SELECT count(*) FROM runs WHERE schedule_id = ?`, id); n != 1 {
			t.Fatalf("%d runs", n)
		}
	})
}

// TestNextRunMatchesCron: the next run shown is the cron package's, in the schedule's zone.
func TestNextRunMatchesCron(t *testing.T) {
	apptest.Run(t, nil, func(t *testing.T, e *apptest.Env) {
		w := setup(t, e)
		for _, c := range []struct{ expr, tz string }{{"0 9 * * MON-FRI", "America/New_York"}, {"@monthly", "Asia/Kathmandu"},
			{"30 2 * * *", "Europe/Paris"}} {
			before := time.Now()
			sc := w.create(t, w.body(map[string]any{"cronExpression": c.expr, "timezone": c.tz}))
			s, err := cron.ParseIn(c.expr, c.tz)
			if err != nil {
				t.Fatal(err)
			}
			if want := s.Next(before); !sc.NextRunAt.Equal(isotime.From(want)) && !sc.NextRunAt.Equal(isotime.From(s.Next(time.Now()))) {
				t.Fatalf("%s in %s: next %s, want %s", c.expr, c.tz, sc.NextRunAt, want)
			}
		}
	})
}
