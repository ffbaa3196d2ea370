package packages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/store"
)

// ImportResult is the answer of an archive import.
type ImportResult struct {
	PackageID string
	Type      string
	Version   string
}

// Import brings an uploaded `.afps`/`.zip` into the caller's organization (PACKAGES.md §2.4 ZIP import):
// archive errors are 400 with the lower-cased archive code (file_too_large, zip_invalid, zip_bomb,
// missing_manifest, invalid_manifest, missing_content, invalid_content); a ZIP with SKILL.md and no manifest
// becomes a skill of the organization's scope (409 skill_unchanged when identical to the draft). Then: a system
// id or an id of another organization → 400 name_collision; another type → 400 type_mismatch; unpublished
// draft changes → 409 draft_overwrite unless force; the same version already stored with other bytes → 409
// integrity_mismatch unless force (force replaces that version's bytes, integrity, manifest and dependencies);
// a version the forward-only rule refuses → 400 post_install_failed. Draft, version, provider hook and
// installation in the caller's application happen in one transaction.
//
// Unlike upstream, a package whose scope is another organization's slug (or the system scope) is refused
// with 403 scope_mismatch: importing it would squat that organization's namespace, ids being global.
// Other foreign scopes stay importable (read-only, forkable), as upstream.
func (r *Registry) Import(ctx context.Context, c Caller, filename string, data []byte, force bool) (*ImportResult, error) {
	if !hasExt(filename, ".afps", ".zip") {
		return nil, regInvalid("invalid_request", "Expected a .afps or .zip file")
	}
	slug, err := regOrgSlug(ctx, r.DB, c.OrgID)
	if err != nil {
		return nil, err
	}
	pkg, archive, err := r.readImport(ctx, slug, data)
	if err != nil {
		return nil, err
	}
	id, typ := pkg.Manifest.Name, string(pkg.Manifest.Type)
	if err := r.checkImportScope(ctx, c, slug, id); err != nil {
		return nil, err
	}
	err = r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		existing, err := GetPackage(ctx, tx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			existing = nil
		case err != nil:
			return err
		case existing.IsSystem():
			return regInvalid("name_collision", id+" is a system package")
		case existing.OrgID != c.OrgID:
			return regInvalid("name_collision", "A package named "+id+" already exists")
		case existing.Type != typ:
			return regInvalid("type_mismatch", fmt.Sprintf("%s is a %s, the archive is a %s", id, existing.Type, typ))
		}
		t := regNow()
		p := existing
		if p == nil {
			p = &Package{ID: id, OrgID: c.OrgID, Type: typ, Source: SourceLocal, LockVersion: 1, CreatedBy: c.UserID, CreatedAt: t}
		} else if !force {
			versions, err := ListVersions(ctx, tx, id)
			if err != nil {
				return err
			}
			if HasUnarchivedChanges(p, versions) {
				return regConflict("draft_overwrite", id+" has unpublished draft changes: import with ?force=true to overwrite them")
			}
		}
		manifest := string(compactJSON(pkg.Manifest.Raw))
		if existing == nil {
			p.DraftManifest, p.DraftContent, p.UpdatedAt = []byte(manifest), pkg.Content(), t
			if err := insertPackage(ctx, tx, p); err != nil {
				return err
			}
		}
		res, err := r.publish(ctx, tx, j, p, pkg.Manifest, archive, c.UserID, publishOptions{at: t, force: force})
		var re *RegistryError
		if errors.As(err, &re) && strings.HasPrefix(re.Code, "version_") {
			return &RegistryError{Kind: KindInvalid, Code: "post_install_failed", Message: "Post-install failed: " + re.Message, Err: err}
		}
		if err != nil {
			return err
		}
		if res.Outcome == Differs {
			return regConflict("integrity_mismatch", fmt.Sprintf("Version %s of %s already exists with a different integrity: "+
				"import with ?force=true to replace it", res.Version.Version, id))
		}
		unchanged := existing != nil && res.Outcome == Reused && existing.DraftContent == pkg.Content() &&
			sameJSONDocument(existing.DraftManifest, []byte(manifest))
		if existing != nil && !unchanged {
			if _, err := tx.ExecContext(ctx, `UPDATE packages SET draft_manifest = ?, draft_content = ?, lock_version = lock_version + 1,
				updated_at = ? WHERE id = ?`, manifest, pkg.Content(), t, id); err != nil {
				return fmt.Errorf("update draft of %s: %w", id, err)
			}
		}
		if !unchanged {
			if err := r.putDraftFiles(ctx, j, p, pkg.Files); err != nil {
				return err
			}
		}
		if typ == TypeProvider {
			if err := regEnableProvider(ctx, tx, c.AppID, id); err != nil {
				return err
			}
		}
		if err := regAutoInstall(ctx, tx, c.AppID, id); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.imported", id, map[string]any{"version": pkg.Manifest.Version, "outcome": res.Outcome})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ImportResult{PackageID: id, Type: typ, Version: pkg.Manifest.Version}, nil
}

// readImport reads and validates an uploaded archive, with the skill-only fallback. It returns the package and
// the bytes to store: the upload itself when the sanitiser changed nothing, else a deterministic re-pack (so
// no dropped entry is ever served back).
func (r *Registry) readImport(ctx context.Context, slug string, data []byte) (*afps.Package, []byte, error) {
	a, err := afps.ReadArchive(data, afps.PackageLimits)
	if err != nil {
		return nil, nil, archiveError(err)
	}
	files, clean := a.Files, len(a.Dropped) == 0 && a.Stripped == ""
	if len(bytes.TrimSpace(files[afps.ManifestFile])) == 0 {
		if skill, ok := files[afps.SkillFile]; ok {
			manifest, err := r.skillOnlyManifest(ctx, slug, skill)
			if err != nil {
				return nil, nil, err
			}
			if manifest != nil {
				files[afps.ManifestFile], clean = manifest, false
			}
		}
	}
	pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
	if err != nil {
		return nil, nil, archiveError(err)
	}
	if clean {
		return pkg, data, nil
	}
	archive, err := afps.WritePackage(files)
	if err != nil {
		return nil, nil, fmt.Errorf("re-pack archive: %w", err)
	}
	return pkg, archive, nil
}

// skillOnlyManifest synthesises the manifest of a SKILL.md-only ZIP (PACKAGES.md §1.7): version 1.0.0 for a
// new skill, else the patch-bump of its latest version; nil when SKILL.md cannot make one (the caller then
// reports missing_manifest); 409 skill_unchanged when SKILL.md equals the existing draft.
func (r *Registry) skillOnlyManifest(ctx context.Context, slug string, skill []byte) ([]byte, error) {
	doc := afps.ParseSkillMD(skill)
	if doc.Name == "" || !afps.ValidSlug(doc.Name) {
		return nil, nil
	}
	id := "@" + slug + "/" + doc.Name
	version := "1.0.0"
	if p, err := GetPackage(ctx, r.DB, id); err == nil {
		if p.Type == TypeSkill && p.DraftContent == string(skill) {
			return nil, regConflict("skill_unchanged", "SKILL.md is identical to the current draft of "+id)
		}
		if v, err := latestVersion(ctx, r.DB, id); err == nil && v != nil {
			if bumped, err := semver.BumpPatch(v.Version); err == nil {
				version = bumped
			}
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	manifest, err := afps.SynthesizeSkillManifest(slug, skill, version)
	if err != nil {
		return nil, nil
	}
	return manifest, nil
}

// archiveError maps afps archive and validation errors onto 400 problems with the lower-cased code.
func archiveError(err error) error {
	code := afps.CodeOf(err)
	if code == "" {
		return err
	}
	out := &RegistryError{Kind: KindInvalid, Code: strings.ToLower(string(code)), Message: err.Error(), Err: err}
	var ae *afps.Error
	if errors.As(err, &ae) {
		out.Message = ae.Message
	}
	var ve *afps.ValidationError
	if errors.As(err, &ve) && len(ve.Issues) > 0 {
		out.Message = ve.Issues[0].String()
		if len(ve.Issues) > 1 {
			out.Message += fmt.Sprintf(" (+%d more)", len(ve.Issues)-1)
		}
		for _, is := range ve.Issues {
			field := "manifest"
			switch {
			case is.Code == afps.CodeMissingContent || is.Code == afps.CodeInvalidContent:
				field = "content"
			case is.Path != "":
				field += "." + is.Path
			}
			out.Issues = append(out.Issues, FieldIssue{Field: field, Code: strings.ToLower(string(is.Code)), Message: is.Message})
		}
	}
	return out
}

// checkImportScope refuses ids under the scope of another organization or the system scope, unless the id
// already exists (then the collision rules answer).
func (r *Registry) checkImportScope(ctx context.Context, c Caller, slug, id string) error {
	scope, _, _ := afps.SplitName(id)
	if scope == slug {
		return nil
	}
	if _, err := GetPackage(ctx, r.DB, id); err == nil {
		return nil
	}
	taken, err := regScopeTaken(ctx, r.DB, "@"+scope, c.OrgID)
	if err != nil {
		return err
	}
	if taken {
		return regForbidden("scope_mismatch", "The scope @"+scope+" belongs to another organization")
	}
	return nil
}

func hasExt(name string, exts ...string) bool {
	lower := strings.ToLower(name)
	for _, e := range exts {
		if strings.HasSuffix(lower, e) {
			return true
		}
	}
	return false
}

// BundleEntry is one package of a bundle import.
type BundleEntry struct {
	Identity  string
	Status    string // Inserted or Reused
	VersionID int64
}

// BundleResult is the answer of a bundle import.
type BundleResult struct {
	Imported      []BundleEntry
	RootInstalled bool
	RootPackageID string
	RootVersion   string
}

// bundleConflict is one reason a bundle cannot be imported.
type bundleConflict struct{ identity, code, message string }

// ImportBundle imports a `.afps-bundle` (or a single `.afps`, whose dependencies are then resolved from the
// organization's published versions) atomically (PACKAGES.md §2.4): reader errors are 400 with the lower-cased
// bundle code; under the locks of every package, a conflict scan runs first — another organization's package
// or scope (foreign_org_owner), a stored version whose RECORD integrity differs (integrity_mismatch), a
// different type (type_mismatch), a version the forward-only rule refuses (version_not_higher), a system
// package version that does not exist (system_package) — and any conflict is 409 bundle_conflict with one entry
// per conflict. Then every package is reused or inserted (deterministic STORE archive, draft row when new) in
// the same transaction, and the root is installed in the caller's application.
func (r *Registry) ImportBundle(ctx context.Context, c Caller, filename string, data []byte) (*BundleResult, error) {
	if !hasExt(filename, ".afps-bundle", ".afps", ".zip") {
		return nil, regInvalid("invalid_request", "Expected a .afps-bundle, .afps or .zip file")
	}
	b, err := r.readBundle(ctx, c, data)
	if err != nil {
		return nil, err
	}
	pkgs := map[string]*afps.Package{}
	for _, identity := range b.Identities() {
		p, err := b.Packages[identity].Package(afps.ValidateOptions{})
		if err != nil {
			ae := archiveError(err)
			if re, ok := ae.(*RegistryError); ok {
				re.Message = identity + ": " + re.Message
			}
			return nil, ae
		}
		pkgs[identity] = p
	}
	slug, err := regOrgSlug(ctx, r.DB, c.OrgID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(pkgs))
	seen := map[string]bool{}
	for _, p := range pkgs {
		if !seen[p.Manifest.Name] {
			seen[p.Manifest.Name] = true
			ids = append(ids, p.Manifest.Name)
		}
	}
	sort.Strings(ids)
	res := &BundleResult{}
	root := b.RootPackage()
	res.RootPackageID, res.RootVersion = root.Name, root.Version
	err = r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		for _, id := range ids {
			if err := LockPackage(ctx, tx, id); err != nil {
				return err
			}
		}
		plan, err := r.scanBundle(ctx, tx, c, slug, b)
		if err != nil {
			return err
		}
		t := regNow()
		for _, identity := range b.Identities() {
			if v, ok := plan[identity]; ok {
				res.Imported = append(res.Imported, BundleEntry{Identity: identity, Status: Reused, VersionID: v.ID})
				continue
			}
			pkg := pkgs[identity]
			id := pkg.Manifest.Name
			p, err := GetPackage(ctx, tx, id)
			if errors.Is(err, ErrNotFound) {
				p = &Package{ID: id, OrgID: c.OrgID, Type: string(pkg.Manifest.Type), Source: SourceLocal,
					DraftManifest: compactJSON(pkg.Manifest.Raw), DraftContent: pkg.Content(), LockVersion: 1, CreatedBy: c.UserID,
					CreatedAt: t, UpdatedAt: t}
				if err := insertPackage(ctx, tx, p); err != nil {
					return err
				}
				if err := r.putDraftFiles(ctx, j, p, pkg.Files); err != nil {
					return err
				}
				if p.Type == TypeProvider {
					if err := regEnableProvider(ctx, tx, c.AppID, id); err != nil {
						return err
					}
				}
			} else if err != nil {
				return err
			}
			archive, err := afps.WriteStoredPackage(pkg.Files)
			if err != nil {
				return fmt.Errorf("write archive of %s: %w", identity, err)
			}
			pub, err := r.publish(ctx, tx, j, p, pkg.Manifest, archive, c.UserID, publishOptions{at: t})
			if err != nil {
				return err
			}
			if pub.Outcome != Inserted {
				return regConflict("bundle_conflict", identity+" changed during the import")
			}
			res.Imported = append(res.Imported, BundleEntry{Identity: identity, Status: Inserted, VersionID: pub.Version.ID})
		}
		regAudit(ctx, tx, c, "package.bundle_imported", root.Name, map[string]any{"root": b.Root, "packages": len(res.Imported)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p, err := GetPackage(ctx, r.DB, res.RootPackageID); err == nil && (p.IsSystem() || p.OrgID == c.OrgID) {
		if err := regAutoInstall(ctx, r.DB, c.AppID, p.ID); err != nil {
			r.Logger.Warn("bundle import: root not installed", "package", p.ID, "error", err)
		} else {
			res.RootInstalled = c.AppID != ""
		}
	}
	return res, nil
}

// readBundle reads the upload as a bundle, or as a single package whose dependencies come from the
// organization's published versions.
func (r *Registry) readBundle(ctx context.Context, c Caller, data []byte) (*afps.Bundle, error) {
	if afps.LooksLikeBundle(data) {
		b, err := afps.ReadBundle(data, afps.BundleLimits)
		if err != nil {
			return nil, archiveError(err)
		}
		return b, nil
	}
	pkg, err := afps.ReadPackage(data, afps.ValidateOptions{})
	if err != nil {
		return nil, archiveError(err)
	}
	b, _, err := afps.BuildBundle(ctx, pkg, &orgCatalog{r: r, c: c}, nil)
	if err != nil {
		if afps.CodeOf(err) == afps.CodeBundleConflict {
			return nil, &RegistryError{Kind: KindConflict, Code: "bundle_conflict", Message: err.Error(), Err: err}
		}
		return nil, archiveError(err)
	}
	return b, nil
}

// scanBundle is the conflict scan; it returns the identities already stored with the same content (reused).
func (r *Registry) scanBundle(ctx context.Context, tx *store.Tx, c Caller, slug string, b *afps.Bundle) (map[string]*Version, error) {
	reused := map[string]*Version{}
	var conflicts []bundleConflict
	planned := map[string][]string{} // id → versions, including the ones this bundle inserts
	for _, identity := range b.Identities() {
		bp := b.Packages[identity]
		id := bp.Name
		p, err := GetPackage(ctx, tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if p == nil {
			scope, _, _ := afps.SplitName(id)
			if scope != slug {
				taken, err := regScopeTaken(ctx, tx, "@"+scope, c.OrgID)
				if err != nil {
					return nil, err
				}
				if taken {
					conflicts = append(conflicts, bundleConflict{identity, "foreign_org_owner", "the scope @" + scope + " belongs to another organization"})
					continue
				}
			}
			if prev := planned[id]; len(prev) > 0 {
				conflicts = append(conflicts, bundleConflict{identity, "version_not_higher", "the bundle holds several versions of " + id})
			}
			planned[id] = append(planned[id], bp.Version)
			continue
		}
		if !p.IsSystem() && p.OrgID != c.OrgID {
			conflicts = append(conflicts, bundleConflict{identity, "foreign_org_owner", id + " belongs to another organization"})
			continue
		}
		if p.Type != string(bp.Manifest.Type) {
			conflicts = append(conflicts, bundleConflict{identity, "type_mismatch", fmt.Sprintf("%s is a %s", id, p.Type)})
			continue
		}
		versions, err := ListVersions(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if v := findVersion(versions, bp.Version); v != nil {
			files, _, err := r.versionFiles(ctx, v)
			if err != nil {
				return nil, err
			}
			if !afps.EqualSRI(afps.SRI(afps.BuildRecord(files)), bp.Integrity) {
				conflicts = append(conflicts, bundleConflict{identity, "integrity_mismatch", "version " + bp.Version + " is stored with other content"})
				continue
			}
			reused[identity] = v
			continue
		}
		if p.IsSystem() {
			conflicts = append(conflicts, bundleConflict{identity, "system_package", id + " is a system package without version " + bp.Version})
			continue
		}
		existing := planned[id]
		for _, v := range versions {
			existing = append(existing, v.Version)
		}
		if outcome, perr := semver.PlanCreateVersion(existing, bp.Version); perr != nil {
			conflicts = append(conflicts, bundleConflict{identity, strings.ToLower(string(outcome)), perr.Error()})
			continue
		}
		planned[id] = append(planned[id], bp.Version)
	}
	if len(conflicts) == 0 {
		return reused, nil
	}
	err := &RegistryError{Kind: KindConflict, Code: "bundle_conflict",
		Message: fmt.Sprintf("%d package(s) of the bundle conflict with the registry: %s (%s)", len(conflicts), conflicts[0].identity, conflicts[0].message)}
	for _, cf := range conflicts {
		err.Issues = append(err.Issues, FieldIssue{Field: cf.identity, Code: cf.code, Message: cf.message})
	}
	return nil, err
}

// orgCatalog resolves dependencies against the published, non-yanked versions an organization sees (its own
// packages and the system packages).
type orgCatalog struct {
	r *Registry
	c Caller
}

func (oc *orgCatalog) Versions(ctx context.Context, id string) ([]string, error) {
	if _, err := oc.r.visible(ctx, oc.r.DB, oc.c, "", id); err != nil {
		return nil, nil
	}
	versions, err := ListVersions(ctx, oc.r.DB, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range versions {
		if !v.Yanked {
			out = append(out, v.Version)
		}
	}
	return out, nil
}

func (oc *orgCatalog) Load(ctx context.Context, id, version string) (*afps.Package, error) {
	if _, err := oc.r.visible(ctx, oc.r.DB, oc.c, "", id); err != nil {
		return nil, err
	}
	versions, err := ListVersions(ctx, oc.r.DB, id)
	if err != nil {
		return nil, err
	}
	v := findVersion(versions, version)
	if v == nil {
		return nil, ErrNotFound
	}
	files, _, err := oc.r.versionFiles(ctx, v)
	if err != nil {
		return nil, err
	}
	return afps.LoadPackage(files, afps.ValidateOptions{})
}
