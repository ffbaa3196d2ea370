package packages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/packages/system"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/store/storetest"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// snapshot renders every row the sync writes, so two boots can be compared exactly.
func snapshot(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	queries := []string{
		`SELECT id, COALESCE(org_id, ''), type, source, draft_manifest, draft_content, auto_installed, lock_version,
			ephemeral, created_at, updated_at FROM packages ORDER BY id`,
		`SELECT id, package_id, version, integrity, artifact_size, manifest, yanked, created_at FROM package_versions ORDER BY id`,
		`SELECT package_id, tag, version_id, updated_at FROM package_dist_tags ORDER BY package_id, tag`,
		`SELECT version_id, dep_scope, dep_name, dep_type, version_range FROM package_version_dependencies
			ORDER BY version_id, dep_scope, dep_name`,
		`SELECT value, updated_at FROM app_meta WHERE key = '` + SystemDigestKey + `'`,
	}
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if raw, ok := v.([]byte); ok {
					v = string(raw)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteString("\n")
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		b.WriteString("--\n")
	}
	return b.String()
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustSync(t *testing.T, db *store.DB, blobs blob.Store, cat *SystemCatalog) *SystemSyncResult {
	t.Helper()
	res, err := SyncSystem(context.Background(), db, blobs, cat, quietLogger())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

func TestSyncSystemFirstBootThenNothing(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		cat := System()
		blobs := blob.NewFS(t.TempDir())

		res := mustSync(t, db, blobs, cat)
		if res.Skipped || res.PackagesCreated != 65 || res.VersionsInserted != 66 || res.Packages != 65 || len(res.Failed) != 0 {
			t.Fatalf("first boot: %+v", res)
		}
		if res.BlobsWritten != 66+65 {
			t.Errorf("blobs written = %d, want 66 versions + 65 drafts", res.BlobsWritten)
		}
		if n := count(t, db, `SELECT count(*) FROM packages WHERE source = 'system' AND org_id IS NULL`); n != 65 {
			t.Errorf("system packages = %d", n)
		}
		if n := count(t, db, `SELECT count(*) FROM package_versions`); n != 66 {
			t.Errorf("versions = %d", n)
		}
		if n := count(t, db, `SELECT count(*) FROM package_dist_tags WHERE tag = 'latest'`); n != 65 {
			t.Errorf("latest tags = %d", n)
		}
		tags, err := DistTags(ctx, db, "@appstrate/output")
		if err != nil || tags["latest"] != "2.0.0" {
			t.Errorf("output tags = %v, %v", tags, err)
		}

		// Rows and archives are exactly the embedded packages.
		for _, p := range cat.All() {
			versions, err := ListVersions(ctx, db, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			v := findSystemVersion(versions, p.Version)
			if v == nil {
				t.Fatalf("%s@%s not stored", p.ID, p.Version)
			}
			archive, _ := p.Archive()
			stored, err := blobs.Get(ctx, BucketVersions, VersionKey(p.ID, p.Version))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stored, archive) || v.Integrity != p.Integrity() || !afps.VerifySRI(stored, v.Integrity) ||
				v.ArtifactSize != int64(len(archive)) {
				t.Errorf("%s@%s: stored archive/integrity differ from the embedded pack", p.ID, p.Version)
			}
			if !sameJSON(v.Manifest, p.Manifest.Raw) {
				t.Errorf("%s@%s: version manifest differs", p.ID, p.Version)
			}
		}
		for _, p := range cat.List("") {
			row, err := GetPackage(ctx, db, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !row.IsSystem() || row.OrgID != "" || row.Type != p.Type || row.LockVersion != 1 || row.DraftContent != p.Content ||
				!sameJSON(row.DraftManifest, p.DraftManifest) || row.CreatedAt != row.UpdatedAt {
				t.Errorf("%s: row %+v", p.ID, row)
			}
			draft, err := blobs.Get(ctx, BucketLibrary, DraftKey("", p.Type, p.ID))
			archive, _ := p.Archive()
			if err != nil || !bytes.Equal(draft, archive) {
				t.Errorf("%s: draft archive %v", p.ID, err)
			}
		}

		// Second boot: the digest matches, nothing is read or written.
		before := snapshot(t, db)
		res = mustSync(t, db, blobs, cat)
		if !res.Skipped || res.BlobsWritten != 0 {
			t.Errorf("second boot: %+v", res)
		}
		if after := snapshot(t, db); after != before {
			t.Errorf("second boot changed the database:\n%s", diffLines(before, after))
		}

		// Without the digest the full path runs, and still changes nothing (jsonb re-formatting included).
		if _, err := db.ExecContext(ctx, `DELETE FROM app_meta WHERE key = ?`, SystemDigestKey); err != nil {
			t.Fatal(err)
		}
		before = snapshot(t, db)
		res = mustSync(t, db, blobs, cat)
		if res.Skipped || res.PackagesCreated+res.DraftsUpdated+res.VersionsInserted+res.VersionsReplaced+res.TagsMoved+res.BlobsWritten != 0 {
			t.Errorf("full resync of an up-to-date database did work: %+v", res)
		}
		if after := snapshot(t, db); stripDigestRow(after) != stripDigestRow(before) {
			t.Errorf("full resync changed rows:\n%s", diffLines(before, after))
		}

		// A wiped blob store is repaired on the next boot, without touching the database.
		fresh := blob.NewFS(t.TempDir())
		before = snapshot(t, db)
		res = mustSync(t, db, fresh, cat)
		if !res.Skipped || res.BlobsWritten != 66+65 {
			t.Errorf("boot over an empty store: %+v", res)
		}
		if snapshot(t, db) != before {
			t.Error("repairing archives touched the database")
		}
	})
}

func stripDigestRow(s string) string {
	i := strings.LastIndex(strings.TrimSuffix(s, "--\n"), "--\n")
	return s[:i]
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}

func findSystemVersion(vs []*Version, version string) *Version {
	for _, v := range vs {
		if v.Version == version {
			return v
		}
	}
	return nil
}

// withTool adds tools/<dir>/ with a manifest derived from output 2.0.0.
func withTool(t *testing.T, fsys fstest.MapFS, dir, name, version, extra string) {
	t.Helper()
	src := "tools/output-2.0.0/"
	manifest := string(fsys[src+"manifest.json"].Data)
	manifest = strings.Replace(manifest, `"name": "@appstrate/output"`, `"name": "`+name+`"`, 1)
	manifest = strings.Replace(manifest, `"version": "2.0.0"`, `"version": "`+version+`"`+extra, 1)
	for _, f := range []string{"TOOL.md", "tool.js", "tool.ts"} {
		fsys["tools/"+dir+"/"+f] = &fstest.MapFile{Data: fsys[src+f].Data}
	}
	fsys["tools/"+dir+"/manifest.json"] = &fstest.MapFile{Data: []byte(manifest)}
}

// A new binary with new versions, a new package with dependencies and a changed file: only those are written;
// older majors stay, latest follows semver (prereleases never), updated_at moves only for a new canonical version.
func TestSyncSystemUpgrade(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		blobs := blob.NewFS(t.TempDir())
		mustSync(t, db, blobs, System())
		gmailBefore, _ := GetPackage(ctx, db, "@appstrate/gmail")
		outputBefore, _ := GetPackage(ctx, db, "@appstrate/output")
		versionsBefore := count(t, db, `SELECT count(*) FROM package_versions`)

		next := copyFS(t, system.FS())
		withTool(t, next, "output-2.1.0", "@appstrate/output", "2.1.0", "")
		withTool(t, next, "output-3.0.0-beta.1", "@appstrate/output", "3.0.0-beta.1", "")
		withTool(t, next, "digest-1.0.0", "@appstrate/digest", "1.0.0",
			`, "dependencies": {"tools": {"@appstrate/log": "^1.0.0"}, "providers": {"@appstrate/gmail": "^1.0.0"}}`)
		gmail := next["providers/gmail/PROVIDER.md"]
		gmail.Data = append(append([]byte(nil), gmail.Data...), "\nQuota: 250 units per user per second.\n"...)
		cat := LoadSystemCatalog(next)
		if len(cat.Problems()) > 0 {
			t.Fatal(cat.Problems())
		}

		res := mustSync(t, db, blobs, cat)
		if res.PackagesCreated != 1 || res.VersionsInserted != 3 || res.VersionsReplaced != 1 || res.DraftsUpdated != 2 {
			t.Errorf("upgrade: %+v", res)
		}
		if n := count(t, db, `SELECT count(*) FROM package_versions`); n != versionsBefore+3 {
			t.Errorf("versions = %d, want %d", n, versionsBefore+3)
		}
		tags, _ := DistTags(ctx, db, "@appstrate/output")
		if tags["latest"] != "2.1.0" {
			t.Errorf("output latest = %q, want 2.1.0 (a prerelease never becomes latest)", tags["latest"])
		}
		versions, _ := ListVersions(ctx, db, "@appstrate/output")
		if len(versions) != 4 || findSystemVersion(versions, "1.0.0") == nil {
			t.Errorf("output versions = %d", len(versions))
		}
		output, _ := GetPackage(ctx, db, "@appstrate/output")
		canon, _ := cat.Get("@appstrate/output")
		if canon.Version != "3.0.0-beta.1" || !sameJSON(output.DraftManifest, canon.DraftManifest) ||
			output.UpdatedAt == outputBefore.UpdatedAt || output.LockVersion != outputBefore.LockVersion+1 {
			t.Errorf("output draft not moved to the canonical (highest) version: %+v", output)
		}

		gmailAfter, _ := GetPackage(ctx, db, "@appstrate/gmail")
		if gmailAfter.UpdatedAt != gmailBefore.UpdatedAt || gmailAfter.LockVersion != gmailBefore.LockVersion+1 ||
			!strings.Contains(gmailAfter.DraftContent, "Quota") {
			t.Errorf("gmail draft: %+v", gmailAfter)
		}
		gv, _ := ListVersions(ctx, db, "@appstrate/gmail")
		gp, _ := cat.Get("@appstrate/gmail")
		stored, _ := blobs.Get(ctx, BucketVersions, VersionKey("@appstrate/gmail", "1.0.0"))
		if len(gv) != 1 || gv[0].Integrity != gp.Integrity() || !afps.VerifySRI(stored, gv[0].Integrity) {
			t.Error("gmail 1.0.0 not replaced by the embedded archive")
		}
		draft, _ := blobs.Get(ctx, BucketLibrary, DraftKey("", TypeProvider, "@appstrate/gmail"))
		if !bytes.Contains(draft, []byte("manifest.json")) || !afps.VerifySRI(draft, gp.Integrity()) {
			t.Error("gmail draft archive not rewritten")
		}

		dv, _ := ListVersions(ctx, db, "@appstrate/digest")
		if len(dv) != 1 {
			t.Fatalf("digest versions = %d", len(dv))
		}
		rows, err := db.QueryContext(ctx, `SELECT dep_scope, dep_name, dep_type, version_range FROM package_version_dependencies
			WHERE version_id = ? ORDER BY dep_name`, dv[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var deps []string
		for rows.Next() {
			var s, n, typ, r string
			if err := rows.Scan(&s, &n, &typ, &r); err != nil {
				t.Fatal(err)
			}
			deps = append(deps, s+"/"+n+" "+typ+" "+r)
		}
		rows.Close()
		if strings.Join(deps, ", ") != "@appstrate/gmail provider ^1.0.0, @appstrate/log tool ^1.0.0" {
			t.Errorf("dependencies = %v", deps)
		}

		// The same binary again: nothing to do.
		before := snapshot(t, db)
		if res := mustSync(t, db, blobs, cat); !res.Skipped {
			t.Errorf("reboot: %+v", res)
		}
		if snapshot(t, db) != before {
			t.Error("reboot changed the database")
		}

		// An older binary booting during a rolling deploy leaves the newer draft alone.
		mustSync(t, db, blobs, System())
		output2, _ := GetPackage(ctx, db, "@appstrate/output")
		if output2.LockVersion != output.LockVersion || !sameJSON(output2.DraftManifest, output.DraftManifest) {
			t.Error("an older binary rolled the output draft back")
		}
	})
}

// An organization holding a system id (possible because org slugs are not reserved upstream) keeps its
// package; the other system packages sync, and the digest is not stored so the next boot retries.
func TestSyncSystemLeavesOrgPackagesAlone(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := isotime.Now()
		if _, err := db.ExecContext(ctx, `INSERT INTO organizations (id, name, slug, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`,
			"org_1", "Appstrate fans", "appstrate", now, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			"@appstrate/gmail", "org_1", TypeProvider, SourceLocal, `{"name":"@appstrate/gmail"}`, "mine", now, now); err != nil {
			t.Fatal(err)
		}
		res, err := SyncSystem(ctx, db, blob.NewFS(t.TempDir()), System(), quietLogger())
		if !errors.Is(err, ErrSystemIDTaken) || len(res.Failed) != 1 || res.Failed["@appstrate/gmail"] == nil || res.Packages != 64 {
			t.Fatalf("sync = %+v, %v", res, err)
		}
		row, _ := GetPackage(ctx, db, "@appstrate/gmail")
		if row.OrgID != "org_1" || row.DraftContent != "mine" || row.IsSystem() {
			t.Errorf("org package overwritten: %+v", row)
		}
		if n := count(t, db, `SELECT count(*) FROM package_versions WHERE package_id = ?`, "@appstrate/gmail"); n != 0 {
			t.Errorf("versions added to the org package: %d", n)
		}
		if d, _ := systemMeta(ctx, db, SystemDigestKey); d != "" {
			t.Error("digest stored after a partial sync")
		}
	})
}

// A blob store that outlived its database may hold other bytes under a system key: the rows written now must
// describe what is served, so those archives are rewritten.
func TestSyncSystemRewritesStaleArchives(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		blobs := blob.NewFS(t.TempDir())
		versionKey := VersionKey("@appstrate/gmail", "1.0.0")
		draftKey := DraftKey("", TypeProvider, "@appstrate/gmail")
		for _, k := range [][2]string{{BucketVersions, versionKey}, {BucketLibrary, draftKey}} {
			if err := blobs.Put(ctx, k[0], k[1], []byte("left over")); err != nil {
				t.Fatal(err)
			}
		}
		res := mustSync(t, db, blobs, System())
		if res.BlobsWritten != 66+65 {
			t.Errorf("blobs written = %d", res.BlobsWritten)
		}
		p, _ := System().Get("@appstrate/gmail")
		for _, k := range [][2]string{{BucketVersions, versionKey}, {BucketLibrary, draftKey}} {
			stored, err := blobs.Get(ctx, k[0], k[1])
			if err != nil || !afps.VerifySRI(stored, p.Integrity()) {
				t.Errorf("%s/%s still stale", k[0], k[1])
			}
		}
	})
}

// Two servers booting at once over one database (and one blob store) agree: no error, no duplicate row.
func TestSyncSystemConcurrentBoots(t *testing.T) {
	storetest.EachDialect(t, func(t *testing.T, db *store.DB) {
		blobs := blob.NewFS(t.TempDir())
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := SyncSystem(context.Background(), db, blobs, LoadSystemCatalog(system.FS()), quietLogger())
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, db, `SELECT count(*) FROM package_versions`); n != 66 {
			t.Errorf("versions = %d", n)
		}
		if n := count(t, db, `SELECT count(*) FROM package_dist_tags`); n != 65 {
			t.Errorf("tags = %d", n)
		}
		if n := count(t, db, `SELECT max(lock_version) FROM packages`); n != 1 {
			t.Errorf("lock_version = %d", n)
		}
	})
}
