package packages

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/blob"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Versions (PACKAGES.md §1.3, §1.10, §2.2): immutable archives in BucketVersions under VersionKey, one
// package_versions row each with the SRI of the exact stored bytes. Publishing is forward-only and decided
// under the package lock before any byte is written; the bytes of an existing version are never overwritten
// except by an explicit forced import.

// Publish outcomes.
const (
	Inserted = "inserted" // a new version row and archive
	Reused   = "reused"   // the version exists with the same integrity: nothing written
	Replaced = "replaced" // forced: the existing version's bytes, integrity, manifest and dependencies replaced
	Differs  = "differs"  // the version exists with another integrity and force was not asked: nothing written
)

// Published is the result of publishing one archive.
type Published struct {
	Version *Version
	Outcome string
}

type publishOptions struct {
	at    isotime.Time // created_at of a new row (the draft's updated_at, so the draft reads as archived)
	force bool         // replace an existing version whose integrity differs
}

// publish stores archive as version manifest.version of package p inside tx: the forward-only decision
// (semver.PlanCreateVersion over every existing version, yanked included) comes first; then the archive is
// written (journaled, so a failed transaction leaves no orphan), the row and its dependency rows inserted and
// `latest` moved per semver.ShouldMoveLatest. The caller holds LockPackage(p.ID) and has validated the files.
func (r *Registry) publish(ctx context.Context, tx *store.Tx, j *blobJournal, p *Package, m *afps.Manifest, archive []byte,
	userID string, o publishOptions) (*Published, error) {
	versions, err := ListVersions(ctx, tx, p.ID)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(versions))
	for i, v := range versions {
		names[i] = v.Version
	}
	outcome, perr := semver.PlanCreateVersion(names, m.Version)
	integrity := afps.SRI(archive)
	switch outcome {
	case semver.OutcomeVersionInvalid:
		return nil, regInvalid("version_invalid", perr.Error())
	case semver.OutcomeVersionNotHigher:
		return nil, regConflict("version_not_higher", perr.Error())
	case semver.OutcomeExists:
		v := findVersion(versions, m.Version)
		if afps.EqualSRI(v.Integrity, integrity) {
			return &Published{Version: v, Outcome: Reused}, nil
		}
		if !o.force {
			return &Published{Version: v, Outcome: Differs}, nil
		}
		if err := j.put(ctx, BucketVersions, VersionKey(p.ID, v.Version), archive); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE package_versions SET integrity = ?, artifact_size = ?, manifest = ? WHERE id = ?`,
			integrity, len(archive), string(compactJSON(m.Raw)), v.ID); err != nil {
			return nil, fmt.Errorf("replace version %s@%s: %w", p.ID, v.Version, err)
		}
		if err := writeDependencies(ctx, tx, v.ID, m, true); err != nil {
			return nil, err
		}
		v.Integrity, v.ArtifactSize, v.Manifest = integrity, int64(len(archive)), compactJSON(m.Raw)
		return &Published{Version: v, Outcome: Replaced}, nil
	}
	at := o.at
	if at.IsZero() {
		at = regNow()
	}
	if err := j.put(ctx, BucketVersions, VersionKey(p.ID, m.Version), archive); err != nil {
		return nil, err
	}
	v := &Version{PackageID: p.ID, Version: m.Version, Integrity: integrity, ArtifactSize: int64(len(archive)),
		Manifest: compactJSON(m.Raw), CreatedBy: userID, CreatedAt: at}
	err = tx.QueryRowContext(ctx, `INSERT INTO package_versions (package_id, version, integrity, artifact_size, manifest, yanked,
		created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, p.ID, v.Version, v.Integrity, v.ArtifactSize,
		string(v.Manifest), false, regNull(userID), at).Scan(&v.ID)
	if err != nil {
		return nil, fmt.Errorf("insert version %s@%s: %w", p.ID, v.Version, err)
	}
	if err := writeDependencies(ctx, tx, v.ID, m, false); err != nil {
		return nil, err
	}
	tags, err := DistTags(ctx, tx, p.ID)
	if err != nil {
		return nil, err
	}
	if semver.ShouldMoveLatest(tags[semver.LatestTag], v.Version) {
		if err := setTag(ctx, tx, p.ID, semver.LatestTag, v.ID); err != nil {
			return nil, err
		}
	}
	return &Published{Version: v, Outcome: Inserted}, nil
}

// writeDependencies stores one package_version_dependencies row per declared dependency.
func writeDependencies(ctx context.Context, tx *store.Tx, versionID int64, m *afps.Manifest, replace bool) error {
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM package_version_dependencies WHERE version_id = ?`, versionID); err != nil {
			return fmt.Errorf("clear dependencies of version %d: %w", versionID, err)
		}
	}
	for _, d := range m.Dependencies.All() {
		scope, name, ok := strings.Cut(d.Name, "/")
		if !ok {
			continue
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO package_version_dependencies (version_id, dep_scope, dep_name, dep_type, version_range)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (version_id, dep_scope, dep_name) DO NOTHING`, versionID, scope, name, string(d.Type), d.Range)
		if err != nil {
			return fmt.Errorf("insert dependency %s of version %d: %w", d.Name, versionID, err)
		}
	}
	return nil
}

func findVersion(versions []*Version, version string) *Version {
	for _, v := range versions {
		if v.Version == version {
			return v
		}
	}
	return nil
}

// CreateVersion publishes an owned package's draft (POST …/versions). A non-empty version first rewrites the
// draft manifest's version. 409 no_changes when the draft's archive is the one already stored for that
// version; version_not_higher (409) when the version is not above the highest existing one, or exists with
// other content; version_invalid (400); invalid_draft_manifest (400) when the draft is not a valid package.
func (r *Registry) CreateVersion(ctx context.Context, c Caller, typ, id, version string) (*Version, error) {
	var out *Version
	err := r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		p, err := r.owned(ctx, tx, c, typ, id)
		if err != nil {
			return err
		}
		t := regNow()
		if cur, err := afps.ParseManifest(p.DraftManifest); err == nil && cur.Version == version {
			version = "" // already the draft's version: nothing to rewrite
		}
		if version != "" {
			if !semver.Valid(version) {
				return regInvalid("version_invalid", fmt.Sprintf("%q is not a valid semver version", version))
			}
			manifest, err := setJSONMember(compactJSON(p.DraftManifest), "version", version, false)
			if err != nil {
				return regInvalid("invalid_draft_manifest", "The draft manifest is not a JSON object")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE packages SET draft_manifest = ?, lock_version = lock_version + 1, updated_at = ? WHERE id = ?`,
				string(manifest), t, id); err != nil {
				return fmt.Errorf("rewrite draft version of %s: %w", id, err)
			}
			p.DraftManifest = manifest
		}
		files, err := r.draftFiles(ctx, tx, p)
		if err != nil {
			return err
		}
		pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
		if err != nil {
			ve := draftValidationError(typ, err).(*RegistryError)
			ve.Code, ve.Message = "invalid_draft_manifest", "The draft is not a valid package: "+ve.Message
			return ve
		}
		archive, err := afps.WritePackage(files)
		if err != nil {
			return fmt.Errorf("write archive of %s: %w", id, err)
		}
		res, err := r.publish(ctx, tx, j, p, pkg.Manifest, archive, c.UserID, publishOptions{at: t})
		if err != nil {
			return err
		}
		switch res.Outcome {
		case Reused:
			return regConflict("no_changes", "No changes since version "+res.Version.Version)
		case Differs:
			return regConflict("version_not_higher", fmt.Sprintf("Version %s already exists with other content: bump the version",
				res.Version.Version))
		}
		regAudit(ctx, tx, c, "package.version_created", id, map[string]any{"version": res.Version.Version})
		out = res.Version
		return nil
	})
	return out, err
}

// VersionView is a version with the dist-tags pointing at it.
type VersionView struct {
	*Version
	DistTags []string
}

// Versions lists the versions of a package visible to the caller's organization, newest first.
func (r *Registry) Versions(ctx context.Context, c Caller, typ, id string) ([]VersionView, error) {
	if _, err := r.visible(ctx, r.DB, c, typ, id); err != nil {
		return nil, err
	}
	versions, err := ListVersions(ctx, r.DB, id)
	if err != nil {
		return nil, err
	}
	tags, err := DistTags(ctx, r.DB, id)
	if err != nil {
		return nil, err
	}
	byVersion := tagsByVersion(tags)
	out := make([]VersionView, 0, len(versions))
	for i := len(versions) - 1; i >= 0; i-- {
		out = append(out, VersionView{Version: versions[i], DistTags: byVersion[versions[i].Version]})
	}
	return out, nil
}

func tagsByVersion(tags map[string]string) map[string][]string {
	out := map[string][]string{}
	for tag, v := range tags {
		out[v] = append(out[v], tag)
	}
	for _, list := range out {
		sort.Strings(list)
	}
	return out
}

// VersionInfo is `GET …/versions/info`: the version `latest` points at and the draft's version ("" = none).
type VersionInfo struct {
	LatestPublishedVersion string
	ActiveVersion          string
}

// Info returns the version summary of a package.
func (r *Registry) Info(ctx context.Context, c Caller, typ, id string) (*VersionInfo, error) {
	p, err := r.visible(ctx, r.DB, c, typ, id)
	if err != nil {
		return nil, err
	}
	tags, err := DistTags(ctx, r.DB, id)
	if err != nil {
		return nil, err
	}
	info := &VersionInfo{LatestPublishedVersion: tags[semver.LatestTag]}
	if m, err := afps.ParseManifest(p.DraftManifest); err == nil {
		info.ActiveVersion = m.Version
	}
	return info, nil
}

// VersionDetail is one version with its files' primary content.
type VersionDetail struct {
	VersionView
	Content    string
	SourceCode *string // tools: the entrypoint source
}

// resolveVersion finds the version a query names (PACKAGES.md §1.3: exact, then dist-tag, then range).
func resolveVersion(ctx context.Context, q store.Querier, id, query string) (*Version, []*Version, map[string]string, error) {
	versions, err := ListVersions(ctx, q, id)
	if err != nil {
		return nil, nil, nil, err
	}
	tags, err := DistTags(ctx, q, id)
	if err != nil {
		return nil, nil, nil, err
	}
	infos := make([]semver.VersionInfo, len(versions))
	for i, v := range versions {
		infos[i] = semver.VersionInfo{Version: v.Version, Yanked: v.Yanked}
	}
	resolved, ok := semver.ResolveQuery(query, infos, tags)
	if !ok {
		return nil, versions, tags, regNotFound("Version " + query + " of " + id + " not found")
	}
	return findVersion(versions, resolved), versions, tags, nil
}

// GetVersion returns the version a query resolves to, with its content.
func (r *Registry) GetVersion(ctx context.Context, c Caller, typ, id, query string) (*VersionDetail, error) {
	p, err := r.visible(ctx, r.DB, c, typ, id)
	if err != nil {
		return nil, err
	}
	v, _, tags, err := resolveVersion(ctx, r.DB, id, query)
	if err != nil {
		return nil, err
	}
	files, _, err := r.versionFiles(ctx, v)
	if err != nil {
		return nil, err
	}
	content, source := apiContent(p.Type, files)
	return &VersionDetail{VersionView: VersionView{Version: v, DistTags: tagsByVersion(tags)[v.Version]}, Content: content,
		SourceCode: source}, nil
}

// apiContent is the `content` (and for tools `sourceCode`) the API shows for a set of package files: prompt.md,
// SKILL.md, TOOL.md (plus the entrypoint source) or PROVIDER.md.
func apiContent(typ string, files map[string][]byte) (string, *string) {
	switch typ {
	case TypeAgent:
		return string(files[afps.PromptFile]), nil
	case TypeSkill:
		return string(files[afps.SkillFile]), nil
	case TypeTool:
		src := ""
		if m, err := afps.ParseManifest(files[afps.ManifestFile]); err == nil {
			src = string(files[cleanRelPath(m.Entrypoint)])
		}
		return string(files[afps.ToolDocFile]), &src
	case TypeProvider:
		return string(files[afps.ProviderFile]), nil
	}
	return "", nil
}

// Restore copies a version's files into the owned package's draft; it returns the restored version and the new
// lockVersion.
func (r *Registry) Restore(ctx context.Context, c Caller, typ, id, query string) (string, int, error) {
	var restored string
	var lock int
	err := r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		p, err := r.owned(ctx, tx, c, typ, id)
		if err != nil {
			return err
		}
		v, _, _, err := resolveVersion(ctx, tx, id, query)
		if err != nil {
			return err
		}
		files, _, err := r.versionFiles(ctx, v)
		if err != nil {
			return err
		}
		pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
		if err != nil {
			return fmt.Errorf("stored version %s@%s is not a valid package: %w", id, v.Version, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE packages SET draft_manifest = ?, draft_content = ?, lock_version = lock_version + 1,
			updated_at = ? WHERE id = ?`, string(compactJSON(pkg.Manifest.Raw)), pkg.Content(), regNow(), id); err != nil {
			return fmt.Errorf("restore %s@%s: %w", id, v.Version, err)
		}
		if err := r.putDraftFiles(ctx, j, p, files); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.version_restored", id, map[string]any{"version": v.Version})
		restored, lock = v.Version, p.LockVersion+1
		return nil
	})
	return restored, lock, err
}

// DeleteVersion removes one exact version of an owned package; the dist-tags that pointed at it move to the
// highest remaining non-yanked release (semver.RepointTags) or are removed.
func (r *Registry) DeleteVersion(ctx context.Context, c Caller, typ, id, version string) error {
	return r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		if _, err := r.owned(ctx, tx, c, typ, id); err != nil {
			return err
		}
		versions, err := ListVersions(ctx, tx, id)
		if err != nil {
			return err
		}
		v := findVersion(versions, version)
		if v == nil {
			return regNotFound("Version " + version + " of " + id + " not found")
		}
		tags, err := DistTags(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM package_versions WHERE id = ?`, v.ID); err != nil {
			return fmt.Errorf("delete version %s@%s: %w", id, version, err)
		}
		if err := applyTagChanges(ctx, tx, id, versions, semver.RepointTags(tags, version, remainingInfos(versions, v))); err != nil {
			return err
		}
		j.deleteLater(BucketVersions, VersionKey(id, version))
		regAudit(ctx, tx, c, "package.version_deleted", id, map[string]any{"version": version})
		return nil
	})
}

// remainingInfos lists the versions other than skip for the tag re-pointing rules.
func remainingInfos(versions []*Version, skip *Version) []semver.VersionInfo {
	out := make([]semver.VersionInfo, 0, len(versions))
	for _, v := range versions {
		if v != skip {
			out = append(out, semver.VersionInfo{Version: v.Version, Yanked: v.Yanked})
		}
	}
	return out
}

// applyTagChanges applies semver.RepointTags results: tag → new target version, "" = remove.
func applyTagChanges(ctx context.Context, tx *store.Tx, id string, versions []*Version, changes map[string]string) error {
	for tag, target := range changes {
		if target == "" {
			if _, err := tx.ExecContext(ctx, `DELETE FROM package_dist_tags WHERE package_id = ? AND tag = ?`, id, tag); err != nil {
				return fmt.Errorf("remove dist-tag %s of %s: %w", tag, id, err)
			}
			continue
		}
		if v := findVersion(versions, target); v != nil {
			if err := setTag(ctx, tx, id, tag, v.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Yank marks one exact version of an owned package as yanked (reason optional): range resolution skips it,
// dist-tags pointing at it resolve to nothing, `latest` moves to the highest remaining non-yanked release, and
// the archive stays downloadable by its exact version (X-Yanked: true).
func (r *Registry) Yank(ctx context.Context, c Caller, typ, id, version, reason string) (*VersionView, error) {
	return r.setYanked(ctx, c, typ, id, version, true, reason)
}

// Unyank clears a version's yank; `latest` moves back to it when it is the highest release.
func (r *Registry) Unyank(ctx context.Context, c Caller, typ, id, version string) (*VersionView, error) {
	return r.setYanked(ctx, c, typ, id, version, false, "")
}

func (r *Registry) setYanked(ctx context.Context, c Caller, typ, id, version string, yanked bool, reason string) (*VersionView, error) {
	var out *VersionView
	err := r.inTx(ctx, func(tx *store.Tx, _ *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		if _, err := r.owned(ctx, tx, c, typ, id); err != nil {
			return err
		}
		versions, err := ListVersions(ctx, tx, id)
		if err != nil {
			return err
		}
		v := findVersion(versions, version)
		if v == nil {
			return regNotFound("Version " + version + " of " + id + " not found")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE package_versions SET yanked = ?, yanked_reason = ? WHERE id = ?`,
			yanked, regNull(reason), v.ID); err != nil {
			return fmt.Errorf("yank %s@%s: %w", id, version, err)
		}
		v.Yanked, v.YankedReason = yanked, reason
		tags, err := DistTags(ctx, tx, id)
		if err != nil {
			return err
		}
		latest := tags[semver.LatestTag]
		switch {
		case yanked && latest == version:
			changes := semver.RepointTags(map[string]string{semver.LatestTag: latest}, version, remainingInfos(versions, v))
			if err := applyTagChanges(ctx, tx, id, versions, changes); err != nil {
				return err
			}
		case !yanked && latestCandidate(versions, latest, v):
			if err := setTag(ctx, tx, id, semver.LatestTag, v.ID); err != nil {
				return err
			}
		}
		action := "package.version_yanked"
		if !yanked {
			action = "package.version_unyanked"
		}
		regAudit(ctx, tx, c, action, id, map[string]any{"version": version, "reason": reason})
		tags, err = DistTags(ctx, tx, id)
		if err != nil {
			return err
		}
		out = &VersionView{Version: v, DistTags: tagsByVersion(tags)[v.Version]}
		return nil
	})
	return out, err
}

// latestCandidate reports whether an un-yanked version should take `latest`: it would move there on publish
// and it is the highest non-yanked release.
func latestCandidate(versions []*Version, latest string, v *Version) bool {
	if !semver.ShouldMoveLatest(latest, v.Version) {
		return false
	}
	for _, o := range versions {
		if o != v && !o.Yanked && !semver.IsPrerelease(o.Version) {
			if c, ok := semver.Compare(o.Version, v.Version); ok && c > 0 {
				return false
			}
		}
	}
	return true
}

// versionFiles reads a version's archive: its files and the exact stored bytes.
func (r *Registry) versionFiles(ctx context.Context, v *Version) (map[string][]byte, []byte, error) {
	data, err := r.Blobs.Get(ctx, BucketVersions, VersionKey(v.PackageID, v.Version))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil, fmt.Errorf("archive of %s@%s is missing: %w", v.PackageID, v.Version, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read archive of %s@%s: %w", v.PackageID, v.Version, err)
	}
	a, err := afps.ReadArchive(data, afps.PackageLimits)
	if err != nil {
		return nil, nil, fmt.Errorf("read archive of %s@%s: %w", v.PackageID, v.Version, err)
	}
	return a.Files, data, nil
}

// latestVersion is the version `latest` points at, else the most recently created one; nil when none.
func latestVersion(ctx context.Context, q store.Querier, id string) (*Version, error) {
	versions, err := ListVersions(ctx, q, id)
	if err != nil || len(versions) == 0 {
		return nil, err
	}
	tags, err := DistTags(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if v := findVersion(versions, tags[semver.LatestTag]); v != nil {
		return v, nil
	}
	return versions[len(versions)-1], nil
}

// PublishArchive publishes a validated `.afps` archive as a version of an existing package (any source, system
// included: this is the service entry point for other areas, not an API route). It runs its own transaction
// under the package lock with the same forward-only rules as CreateVersion; an existing version with the same
// bytes is Reused, one with other bytes is Differs (nothing written) unless force.
func (r *Registry) PublishArchive(ctx context.Context, packageID string, archive []byte, userID string, force bool) (*Published, error) {
	pkg, err := afps.ReadPackage(archive, afps.ValidateOptions{})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", packageID, err)
	}
	if pkg.Manifest.Name != packageID {
		return nil, fmt.Errorf("publish %s: the archive is %s", packageID, pkg.Manifest.Name)
	}
	var out *Published
	err = r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, packageID); err != nil {
			return err
		}
		p, err := GetPackage(ctx, tx, packageID)
		if err != nil {
			return err
		}
		out, err = r.publish(ctx, tx, j, p, pkg.Manifest, archive, userID, publishOptions{force: force})
		return err
	})
	return out, err
}
