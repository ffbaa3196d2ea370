package packages

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

const (
	// systemSyncVersion is part of the catalog digest: bump it when SyncSystem starts writing something new, so
	// databases synced by an older binary are synced again.
	systemSyncVersion = 1
	// SystemDigestKey is the app_meta key holding the digest of the last fully synced system catalog.
	SystemDigestKey = "system_packages_digest"
)

// ErrSystemIDTaken is returned (per package) when an organization already holds the id of a system package;
// that package is left alone rather than overwritten.
var ErrSystemIDTaken = errors.New("system package id is held by an organization")

// SystemSyncResult tells what a boot sync did.
type SystemSyncResult struct {
	// Skipped is true when the stored digest matched the catalog: no database work was done, only missing
	// archives were written back to the blob store.
	Skipped          bool
	Packages         int // package ids synced
	PackagesCreated  int
	DraftsUpdated    int
	VersionsInserted int
	VersionsReplaced int // same version, different archive bytes (content changed without a version bump)
	TagsMoved        int
	BlobsWritten     int
	Failed           map[string]error // package id → why it was not synced
	Duration         time.Duration
}

// SyncSystem makes the database and the blob store hold the system packages of cat (PACKAGES.md §3.2):
// for each package id, in its own transaction, the `packages` row (org_id NULL, source 'system', draft = the
// canonical i.e. highest version), every version (so older majors stay resolvable), their dependency rows,
// the `latest` dist-tag (semver rules), the version archives (agent-packages/<id>/<version>.afps) and the
// draft archive (library-packages/_system/<folder>/<id>.afps).
//
// It is idempotent and side-effect free when nothing changed: rows are written only when they differ,
// updated_at moves only when a new canonical version appears. When every package synced, the catalog digest is
// stored in app_meta; a later call with the same digest skips the database entirely and only checks that the
// archives are still in the blob store. One failing package does not stop the others; the returned error
// joins the failures (also listed in Failed).
func SyncSystem(ctx context.Context, db *store.DB, blobs blob.Store, cat *SystemCatalog, logger *slog.Logger) (*SystemSyncResult, error) {
	start := time.Now()
	res := &SystemSyncResult{Failed: map[string]error{}}
	defer func() { res.Duration = time.Since(start) }()
	for _, p := range cat.Problems() {
		logger.Error("system package not loaded", "error", p)
	}
	stored, err := systemMeta(ctx, db, SystemDigestKey)
	if err != nil {
		return res, err
	}
	if stored == cat.Digest() {
		res.Skipped = true
		return res, ensureSystemBlobs(ctx, blobs, cat, res, nil)
	}
	// Make sure every archive is in the blob store first, concurrently (a first boot packs and writes ~130
	// files: deflating overlaps with the fsyncs), then pack what is left in parallel, so the per-package
	// transactions below only rewrite what changed.
	written := map[string]bool{}
	if err := ensureSystemBlobs(ctx, blobs, cat, res, written); err != nil {
		return res, err
	}
	if err := cat.packAll(); err != nil {
		return res, err
	}
	now := isotime.Now()
	var errs []error
	for _, id := range cat.IDs() {
		var out SystemSyncResult
		err := db.InTx(ctx, func(tx *store.Tx) error {
			out = SystemSyncResult{}
			return syncSystemPackage(ctx, tx, blobs, written, cat.Versions(id), now, &out)
		})
		if err != nil {
			res.Failed[id] = err
			errs = append(errs, fmt.Errorf("sync system package %s: %w", id, err))
			logger.Error("system package not synced", "package", id, "error", err)
			continue
		}
		res.Packages++
		res.PackagesCreated += out.PackagesCreated
		res.DraftsUpdated += out.DraftsUpdated
		res.VersionsInserted += out.VersionsInserted
		res.VersionsReplaced += out.VersionsReplaced
		res.TagsMoved += out.TagsMoved
		res.BlobsWritten += out.BlobsWritten
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO app_meta (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		SystemDigestKey, cat.Digest(), now)
	if err != nil {
		return res, fmt.Errorf("store system packages digest: %w", err)
	}
	return res, nil
}

// syncSystemPackage brings one package id (all its embedded versions, ascending) up to date inside tx.
// Archives are already in the blob store (ensureSystemBlobs); those whose bytes may be stale (a version row
// or draft written now that phase did not create) are rewritten.
func syncSystemPackage(ctx context.Context, tx *store.Tx, blobs blob.Store, written map[string]bool, vs []*SystemPackage,
	now isotime.Time, out *SystemSyncResult) error {
	if len(vs) == 0 {
		return nil
	}
	canon := vs[len(vs)-1]
	id := canon.ID
	if tx.Dialect() == store.Postgres { // same lock as every other writer of this package id
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, id); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	row, err := GetPackage(ctx, tx, id)
	if errors.Is(err, ErrNotFound) {
		row, err = nil, nil
	}
	if err != nil {
		return err
	}
	if row != nil && (row.OrgID != "" || !row.IsSystem()) {
		return fmt.Errorf("%w (organization %s)", ErrSystemIDTaken, row.OrgID)
	}
	existing, err := ListVersions(ctx, tx, id)
	if err != nil {
		return err
	}
	byVersion := map[string]*Version{}
	var dbHighest string
	for _, v := range existing {
		byVersion[v.Version] = v
		if n, ok := semver.Compare(v.Version, dbHighest); dbHighest == "" || (ok && n > 0) {
			dbHighest = v.Version
		}
	}
	newCanonical := byVersion[canon.Version] == nil

	// The package row (the draft is the canonical version). A database already holding a higher version was
	// synced by a newer binary (rolling deploy): its draft is left alone.
	newer := false
	if n, ok := semver.Compare(dbHighest, canon.Version); ok && n > 0 {
		newer = true
	}
	draftWritten := false
	switch {
	case row == nil:
		_, err = tx.ExecContext(ctx, `INSERT INTO packages (id, org_id, type, source, draft_manifest, draft_content,
			auto_installed, lock_version, ephemeral, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			id, canon.Type, SourceSystem, string(canon.DraftManifest), canon.Content, false, false, now, now)
		if err != nil {
			return fmt.Errorf("insert package: %w", err)
		}
		out.PackagesCreated++
		draftWritten = true
	case !newer && (row.Type != canon.Type || row.DraftContent != canon.Content || row.Ephemeral ||
		!sameJSON(row.DraftManifest, canon.DraftManifest)):
		updatedAt := row.UpdatedAt
		if newCanonical {
			updatedAt = now
		}
		_, err = tx.ExecContext(ctx, `UPDATE packages SET type = ?, draft_manifest = ?, draft_content = ?, ephemeral = ?,
			lock_version = lock_version + 1, updated_at = ? WHERE id = ?`,
			canon.Type, string(canon.DraftManifest), canon.Content, false, updatedAt, id)
		if err != nil {
			return fmt.Errorf("update package draft: %w", err)
		}
		out.DraftsUpdated++
		draftWritten = true
	}

	// Every embedded version.
	tags, err := DistTags(ctx, tx, id)
	if err != nil {
		return err
	}
	latest := tags[semver.LatestTag]
	versionIDs := map[string]int64{}
	for _, v := range existing {
		versionIDs[v.Version] = v.ID
	}
	for _, p := range vs {
		key := VersionKey(id, p.Version)
		archive, err := p.Archive()
		if err != nil {
			return err
		}
		manifest := systemCompactJSON(p.Manifest.Raw)
		switch v := byVersion[p.Version]; {
		case v == nil:
			if err := refreshSystemBlob(ctx, blobs, written, BucketVersions, key, archive, out); err != nil {
				return err
			}
			var vid int64
			err := tx.QueryRowContext(ctx, `INSERT INTO package_versions (package_id, version, integrity, artifact_size,
				manifest, yanked, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				id, p.Version, p.Integrity(), len(archive), string(manifest), false, now).Scan(&vid)
			if err != nil {
				return fmt.Errorf("insert version %s: %w", p.Version, err)
			}
			if err := syncSystemDependencies(ctx, tx, vid, p.Manifest, false); err != nil {
				return err
			}
			versionIDs[p.Version] = vid
			out.VersionsInserted++
			if semver.ShouldMoveLatest(latest, p.Version) {
				latest = p.Version
			}
		case !afps.EqualSRI(v.Integrity, p.Integrity()):
			// Same version, other bytes: the embedded source changed without a version bump, or the Go toolchain
			// deflates differently. System packages are ours: the embedded archive wins, so downloads keep
			// matching the catalog. Bundle (RECORD) integrity is unaffected when only the ZIP envelope changed.
			if err := refreshSystemBlob(ctx, blobs, written, BucketVersions, key, archive, out); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE package_versions SET integrity = ?, artifact_size = ?, manifest = ? WHERE id = ?`,
				p.Integrity(), len(archive), string(manifest), v.ID)
			if err != nil {
				return fmt.Errorf("replace version %s: %w", p.Version, err)
			}
			if err := syncSystemDependencies(ctx, tx, v.ID, p.Manifest, true); err != nil {
				return err
			}
			out.VersionsReplaced++
		}
	}
	if latest == "" { // no tag yet and nothing inserted moved it (e.g. the tag was removed): highest stable version
		var stable []string
		for v := range versionIDs {
			if !semver.IsPrerelease(v) {
				stable = append(stable, v)
			}
		}
		latest, _ = semver.Highest(stable)
	}
	if vid, ok := versionIDs[latest]; ok && latest != tags[semver.LatestTag] {
		_, err := tx.ExecContext(ctx, `INSERT INTO package_dist_tags (package_id, tag, version_id, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (package_id, tag) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`,
			id, semver.LatestTag, vid, now)
		if err != nil {
			return fmt.Errorf("set latest tag: %w", err)
		}
		out.TagsMoved++
	}

	// The draft archive (written for packages with companion files only, as upstream).
	if draftWritten && len(canon.Package.Files) > 1 {
		archive, err := canon.Archive()
		if err != nil {
			return err
		}
		return refreshSystemBlob(ctx, blobs, written, BucketLibrary, DraftKey("", canon.Type, id), archive, out)
	}
	return nil
}

// syncSystemDependencies stores the package_version_dependencies rows of one version.
func syncSystemDependencies(ctx context.Context, tx *store.Tx, versionID int64, m *afps.Manifest, replace bool) error {
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM package_version_dependencies WHERE version_id = ?`, versionID); err != nil {
			return fmt.Errorf("clear dependencies: %w", err)
		}
	}
	for _, d := range m.Dependencies.All() {
		scope, name, ok := afps.SplitName(d.Name)
		if !ok {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO package_version_dependencies (version_id, dep_scope, dep_name, dep_type,
			version_range) VALUES (?, ?, ?, ?, ?)`, versionID, "@"+scope, name, string(d.Type), d.Range)
		if err != nil {
			return fmt.Errorf("insert dependency %s: %w", d.Name, err)
		}
	}
	return nil
}

// ensureSystemBlobs writes the archives missing from the blob store (all of them on a first boot; after that,
// only if the store was wiped or moved while the database was kept), concurrently. Nothing is read from or written
// to the database. Keys it wrote are added to written when not nil.
func ensureSystemBlobs(ctx context.Context, blobs blob.Store, cat *SystemCatalog, res *SystemSyncResult, written map[string]bool) error {
	type object struct {
		bucket, key string
		pkg         *SystemPackage
	}
	var objects []object
	for _, p := range cat.All() {
		objects = append(objects, object{BucketVersions, VersionKey(p.ID, p.Version), p})
	}
	for _, p := range cat.List("") {
		if len(p.Package.Files) > 1 {
			objects = append(objects, object{BucketLibrary, DraftKey("", p.Type, p.ID), p})
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan object)
	for range systemBlobWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				ok, err := blobs.Exists(ctx, o.bucket, o.key)
				if err == nil && !ok {
					var archive []byte
					if archive, err = o.pkg.Archive(); err == nil {
						err = blobs.Put(ctx, o.bucket, o.key, archive)
					}
				}
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("system package archive %s/%s: %w", o.bucket, o.key, err))
				case !ok:
					res.BlobsWritten++
					if written != nil {
						written[o.bucket+"/"+o.key] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, o := range objects {
		work <- o
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// systemBlobWorkers bounds the concurrent blob store calls of ensureSystemBlobs.
const systemBlobWorkers = 8

// refreshSystemBlob writes an archive whose stored bytes may be stale (a row written now over a blob store
// that outlived its database), unless this sync already wrote it or the stored bytes are the same.
func refreshSystemBlob(ctx context.Context, blobs blob.Store, written map[string]bool, bucket, key string, data []byte,
	out *SystemSyncResult) error {
	if written[bucket+"/"+key] {
		return nil
	}
	if stored, err := blobs.Get(ctx, bucket, key); err == nil && bytes.Equal(stored, data) {
		return nil
	}
	if err := blobs.Put(ctx, bucket, key, data); err != nil {
		return fmt.Errorf("write %s/%s: %w", bucket, key, err)
	}
	out.BlobsWritten++
	return nil
}

// systemMeta reads an app_meta value ("" when absent).
func systemMeta(ctx context.Context, q store.Querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM app_meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read app_meta %s: %w", key, err)
	}
	return v, nil
}

// sameJSON compares two JSON documents semantically (PostgreSQL jsonb re-formats what it stores).
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// systemCompactJSON removes insignificant whitespace (the version row keeps the manifest as published).
func systemCompactJSON(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}
