package packages_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/app"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/config"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// app.New syncs the system packages into a fresh Tier 0 data directory; a restart over the same directory
// changes no row; /health stays degraded on agents since no system agent ships.
func TestBootSyncsSystemPackages(t *testing.T) {
	ctx := context.Background()
	vars := map[string]string{"DATA_DIR": t.TempDir(), "LOG_LEVEL": "debug"}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := cfg.EnsureSecrets(logger); err != nil {
		t.Fatal(err)
	}
	boot := func() (*app.App, string) {
		t.Helper()
		a, err := app.New(ctx, cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		var state string
		err = a.DB.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM packages WHERE source = 'system') || ' ' ||
			(SELECT count(*) FROM package_versions) || ' ' || (SELECT max(updated_at) FROM packages) || ' ' ||
			(SELECT sum(lock_version) FROM packages) || ' ' || (SELECT max(id) FROM package_versions)`).Scan(&state)
		if err != nil {
			t.Fatal(err)
		}
		return a, state
	}
	a, first := boot()
	sys := packages.System()
	for _, p := range sys.All() {
		stored, err := blob.NewFS(cfg.FSStoragePath).Get(ctx, packages.BucketVersions, packages.VersionKey(p.ID, p.Version))
		if err != nil || !afps.VerifySRI(stored, p.Integrity()) {
			t.Fatalf("%s@%s: archive not in FS_STORAGE_PATH (%v)", p.ID, p.Version, err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, second := boot()
	defer a.Close()
	if first != second || first[:6] != "65 66 " {
		t.Errorf("state after first boot %q, after restart %q", first, second)
	}
	if !bytes.Contains(logs.Bytes(), []byte("skipped=true")) {
		t.Error("the restart did not skip the sync")
	}

	rec := httptest.NewRecorder()
	a.HTTP.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var health struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status string `json:"status"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &health); err != nil {
		t.Fatalf("health %d: %s", rec.Code, rec.Body)
	}
	if rec.Code != http.StatusOK || health.Checks["agents"].Status != "degraded" || health.Status != "degraded" {
		t.Errorf("health %d: %s", rec.Code, rec.Body)
	}
}
