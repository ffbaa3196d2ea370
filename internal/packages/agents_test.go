package packages

import (
	"context"
	"errors"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// fakeRuns is a RunCounter with fixed counts.
type fakeRuns map[string]int

func (f fakeRuns) RunningRuns(_ context.Context, _ string, ids []string) (map[string]int, error) {
	out := map[string]int{}
	for _, id := range ids {
		if n, ok := f[id]; ok {
			out[id] = n
		}
	}
	return out, nil
}

func seedAgentWorld(t *testing.T, db *store.DB) AppCaller {
	t.Helper()
	ctx, now := context.Background(), isotime.Now()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO organizations (id, name, slug, created_at, updated_at) VALUES ('org-1', 'Acme', 'acme', ?, ?)`, []any{now, now}},
		{`INSERT INTO applications (id, org_id, name, is_default, created_at, updated_at) VALUES ('app_1', 'org-1', 'Default', ?, ?, ?)`, []any{true, now, now}},
		{`INSERT INTO packages (id, org_id, type, source, draft_manifest, created_at, updated_at)
			VALUES ('@acme/busy', 'org-1', 'agent', 'local', '{"name":"@acme/busy","version":"1.0.0","type":"agent"}', ?, ?)`, []any{now, now}},
		{`INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
			VALUES ('app_1', '@acme/busy', '{}', ?, ?, ?)`, []any{true, now, now}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return AppCaller{OrgID: "org-1", AppID: "app_1"}
}

// TestRunningRunsSeam: runningRuns and agent_in_use come from the RunCounter; without one (and without a runs
// table) every count is 0.
func TestRunningRunsSeam(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := seedAgentWorld(t, db)
		plain := &Agents{DB: db}
		list, err := plain.List(ctx, c)
		if err != nil || len(list) != 1 || list[0].RunningRuns != 0 {
			t.Fatalf("without runs: %+v %v", list, err)
		}
		busy := &Agents{DB: db, RunCounter: fakeRuns{"@acme/busy": 2}}
		list, err = busy.List(ctx, c)
		if err != nil || list[0].RunningRuns != 2 {
			t.Fatalf("with runs: %+v %v", list, err)
		}
		d, err := busy.Detail(ctx, c, "@acme/busy")
		if err != nil || d.RunningRuns != 2 {
			t.Fatalf("detail: %+v %v", d, err)
		}
		if _, err := busy.SetDependencies(ctx, c, "@acme/busy", TypeTool, nil); !errors.Is(err, ErrAgentInUse) {
			t.Fatalf("in use: %v", err)
		}
		if _, err := plain.SetDependencies(ctx, c, "@acme/busy", TypeTool, nil); err != nil {
			t.Fatalf("idle: %v", err)
		}
	})
}

// TestRunsTableCount: once a runs table exists, pending and running rows of the application are counted.
func TestRunsTableCount(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := seedAgentWorld(t, db)
		a := &Agents{DB: db}
		now := isotime.Now()
		if _, err := db.ExecContext(ctx, `INSERT INTO applications (id, org_id, name, is_default, created_at, updated_at)
			VALUES ('app_other', 'org-1', 'Other', ?, ?, ?)`, false, now, now); err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct{ id, app, status string }{
			{"r1", "app_1", "running"}, {"r2", "app_1", "pending"}, {"r3", "app_1", "success"}, {"r4", "app_other", "running"},
		} {
			if _, err := db.ExecContext(ctx, `INSERT INTO runs (id, package_id, application_id, org_id, status, timeout_seconds, started_at, created_at)
				VALUES (?, '@acme/busy', ?, 'org-1', ?, 300, ?, ?)`, r.id, r.app, r.status, now, now); err != nil {
				t.Fatalf("insert run %s: %v", r.id, err)
			}
		}
		list, err := a.List(ctx, c)
		if err != nil || list[0].RunningRuns != 2 {
			t.Fatalf("counted %+v %v", list, err)
		}
	})
}

// TestHelloWorldHookInBootstrapTransaction: the hook works on a transaction and is idempotent on a taken id.
func TestHelloWorldHook(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := seedAgentWorld(t, db)
		for i := 0; i < 2; i++ { // the second call finds the id taken and changes nothing
			if err := db.InTx(ctx, func(tx *store.Tx) error { return InstallHelloWorld(ctx, tx, c.OrgID, c.AppID, "") }); err != nil {
				t.Fatalf("hook %d: %v", i, err)
			}
		}
		p, err := GetPackage(ctx, db, "@acme/hello-world")
		if err != nil || p.OrgID != "org-1" || p.Type != TypeAgent || p.DraftContent != HelloWorldPrompt || p.LockVersion != 1 {
			t.Fatalf("package %+v %v", p, err)
		}
		if in, err := apLoadInstall(ctx, db, c.AppID, p.ID); err != nil || in == nil || !in.Enabled {
			t.Fatalf("installation %+v %v", in, err)
		}
	})
}
