package packages

import (
	"context"
	"testing"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func TestModelRoundTrip(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := isotime.Now()
		if _, err := db.ExecContext(ctx, `INSERT INTO packages (id, type, source, draft_manifest, draft_content, created_at, updated_at)
			VALUES ('@appstrate/log', 'tool', 'system', '{"name":"@appstrate/log"}', 'x', ?, ?)`, now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO package_versions (package_id, version, integrity, artifact_size, manifest, created_at)
			VALUES ('@appstrate/log', '1.0.0', 'sha256-x', 3, '{}', ?)`, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO package_dist_tags (package_id, tag, version_id, updated_at)
			SELECT package_id, 'latest', id, ? FROM package_versions WHERE package_id = '@appstrate/log'`, now); err != nil {
			t.Fatal(err)
		}
		p, err := GetPackage(ctx, db, "@appstrate/log")
		if err != nil || !p.IsSystem() || p.Scope() != "@appstrate" || p.Name() != "log" || !p.VisibleToOrg("any") {
			t.Fatalf("package: %+v %v", p, err)
		}
		vs, err := ListVersions(ctx, db, p.ID)
		if err != nil || len(vs) != 1 || vs[0].Version != "1.0.0" || vs[0].Yanked {
			t.Fatalf("versions: %+v %v", vs, err)
		}
		tags, err := DistTags(ctx, db, p.ID)
		if err != nil || tags["latest"] != "1.0.0" {
			t.Fatalf("tags: %v %v", tags, err)
		}
		if _, err := GetPackage(ctx, db, "@nope/x"); err != ErrNotFound {
			t.Fatalf("missing: %v", err)
		}
	})
}
