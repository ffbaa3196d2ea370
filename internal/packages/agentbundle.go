package packages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Sources of an agent bundle export (GET /api/agents/{scope}/{name}/bundle?source=).
const (
	BundleSourceDraft     = "draft"
	BundleSourcePublished = "published"
)

// BundleQuery selects what an agent bundle export holds.
type BundleQuery struct {
	// Version is an exact version, a dist-tag or a semver range of a published version.
	Version string
	// Source is "" (the pinned or latest published version, else the draft), BundleSourceDraft or
	// BundleSourcePublished.
	Source string
}

// AgentBundle is an agent exported as an `.afps-bundle` (PACKAGES.md §1.11).
type AgentBundle struct {
	PackageID string
	// Version is the exported published version, or "draft".
	Version string
	// Data is the deterministic bundle ZIP; Integrity its SRI (sha256-<b64> of Data).
	Data      []byte
	Integrity string
	// BundleIntegrity is the content integrity recorded in bundle.json.
	BundleIntegrity string
	// Filename is "<@scope>-<name>.afps-bundle.zip".
	Filename string
}

// AgentBundle builds the `.afps-bundle` of an agent the caller's application sees (a system agent, or an
// agent of the organization installed in the application).
//
// The draft bundle holds the agent's draft and resolves dependencies as a platform run does: packages of the
// organization at their draft (the range is not checked, as upstream), system packages at their highest
// published version satisfying the range. A published bundle holds the version q.Version resolves to (exact,
// dist-tag, range), else the application's pinned version, else `latest`, with dependencies resolved against
// the published, non-yanked versions the organization sees. Without q.Source nor q.Version an agent that was
// never published exports its draft.
//
// Errors are *RegistryError: draft_with_version (400), agent_not_found and agent_not_installed_in_app (404),
// not_found for a version that does not resolve, invalid_draft_manifest and dependency_unresolved (400),
// bundle_conflict (409).
func (r *Registry) AgentBundle(ctx context.Context, c Caller, id string, q BundleQuery) (*AgentBundle, error) {
	if q.Source == BundleSourceDraft && q.Version != "" {
		return nil, regInvalid("draft_with_version", "source=draft cannot be combined with version")
	}
	if q.Source != "" && q.Source != BundleSourceDraft && q.Source != BundleSourcePublished {
		return nil, regInvalid("invalid_request", "source must be draft or published")
	}
	p, pin, err := r.bundleAgent(ctx, c, id)
	if err != nil {
		return nil, err
	}
	spec := q.Version
	if spec == "" && q.Source != BundleSourceDraft {
		if spec, err = r.defaultBundleSpec(ctx, p, pin); err != nil {
			return nil, err
		}
		if spec == "" && q.Source == BundleSourcePublished {
			return nil, regNotFound("Agent " + id + " has no published version")
		}
	}
	var b *afps.Bundle
	version := BundleSourceDraft
	if spec == "" {
		b, err = r.draftBundle(ctx, c, p)
	} else {
		b, version, err = r.publishedBundle(ctx, c, p, spec)
	}
	if err != nil {
		return nil, err
	}
	data, err := b.Write()
	if err != nil {
		return nil, fmt.Errorf("write the bundle of %s: %w", id, err)
	}
	return &AgentBundle{PackageID: p.ID, Version: version, Data: data, Integrity: afps.SRI(data),
		BundleIntegrity: b.Integrity, Filename: p.ID[:strings.IndexByte(p.ID, '/')] + "-" + p.Name() + ".afps-bundle.zip"}, nil
}

// bundleAgent loads the agent with the version id its installation pins (0: none).
func (r *Registry) bundleAgent(ctx context.Context, c Caller, id string) (*Package, int64, error) {
	notFound := &RegistryError{Kind: KindNotFound, Code: "agent_not_found", Message: "Agent " + id + " not found"}
	p, err := GetPackage(ctx, r.DB, id)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, notFound
	}
	if err != nil {
		return nil, 0, err
	}
	if p.Type != TypeAgent || !p.VisibleToOrg(c.OrgID) {
		return nil, 0, notFound
	}
	in, err := apLoadInstall(ctx, r.DB, c.AppID, id)
	if err != nil {
		return nil, 0, err
	}
	if in == nil {
		if p.IsSystem() {
			return p, 0, nil
		}
		return nil, 0, &RegistryError{Kind: KindNotFound, Code: "agent_not_installed_in_app",
			Message: "Agent " + id + " is not installed in this application"}
	}
	return p, in.VersionID.Int64, nil
}

// defaultBundleSpec is the exact version an export without ?version= holds: the pinned version, else the one
// `latest` points at; "" when the agent has no published version.
func (r *Registry) defaultBundleSpec(ctx context.Context, p *Package, pin int64) (string, error) {
	versions, err := ListVersions(ctx, r.DB, p.ID)
	if err != nil {
		return "", err
	}
	for _, v := range versions {
		if pin != 0 && v.ID == pin {
			return v.Version, nil
		}
	}
	v, err := latestVersion(ctx, r.DB, p.ID)
	if err != nil || v == nil {
		return "", err
	}
	return v.Version, nil
}

// publishedBundle bundles the version spec resolves to with its dependencies from the organization's catalog.
func (r *Registry) publishedBundle(ctx context.Context, c Caller, p *Package, spec string) (*afps.Bundle, string, error) {
	v, _, _, err := resolveVersion(ctx, r.DB, p.ID, spec)
	if err != nil {
		return nil, "", err
	}
	files, _, err := r.versionFiles(ctx, v)
	if err != nil {
		return nil, "", err
	}
	root, err := afps.LoadPackage(files, afps.ValidateOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("load %s@%s: %w", p.ID, v.Version, err)
	}
	b, _, err := afps.BuildBundle(ctx, root, &orgCatalog{r: r, c: c}, nil)
	if err != nil {
		return nil, "", bundleError(p.ID+"@"+v.Version, err)
	}
	return b, v.Version, nil
}

// draftBundle bundles the agent's draft with the dependency closure a platform run of the draft uses.
func (r *Registry) draftBundle(ctx context.Context, c Caller, p *Package) (*afps.Bundle, error) {
	root, err := r.draftPackage(ctx, r.DB, p)
	if err != nil {
		return nil, regInvalid("invalid_draft_manifest", "The draft of "+p.ID+" has no valid manifest: "+err.Error())
	}
	cat := &orgCatalog{r: r, c: c}
	var deps []*afps.Package
	seen := map[string]bool{p.ID: true}
	queue := []*afps.Package{root}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, dep := range from.Manifest.Dependencies.All() {
			if seen[dep.Name] {
				continue
			}
			seen[dep.Name] = true
			pkg, err := r.draftDependency(ctx, cat, dep, from.Manifest.Name)
			if err != nil {
				return nil, err
			}
			deps = append(deps, pkg)
			queue = append(queue, pkg)
		}
	}
	b, err := afps.NewBundle(root, deps, nil)
	if err != nil {
		return nil, bundleError(p.ID, err)
	}
	return b, nil
}

// draftPackage is a package's draft as a run uses it.
func (r *Registry) draftPackage(ctx context.Context, q store.Querier, p *Package) (*afps.Package, error) {
	files, err := r.draftFiles(ctx, q, p)
	if err != nil {
		return nil, err
	}
	m, err := afps.ParseManifest(files[afps.ManifestFile])
	if err != nil {
		return nil, err
	}
	if m.Name != p.ID {
		return nil, fmt.Errorf("manifest name %q is not %s", m.Name, p.ID)
	}
	return &afps.Package{Manifest: m, Files: files}, nil
}

// draftDependency loads one dependency of a draft bundle: a system package at its highest published version
// satisfying the range, a package of the organization at its draft.
func (r *Registry) draftDependency(ctx context.Context, cat *orgCatalog, dep afps.Dependency, requiredBy string) (*afps.Package, error) {
	unresolved := func(why string) error {
		return regInvalid("dependency_unresolved", fmt.Sprintf("%s %s required by %s %s", dep.Type, dep.Name, requiredBy, why))
	}
	p, err := GetPackage(ctx, r.DB, dep.Name)
	if errors.Is(err, ErrNotFound) || err == nil && (!p.VisibleToOrg(cat.c.OrgID) || p.Ephemeral) {
		return nil, unresolved("was not found")
	}
	if err != nil {
		return nil, err
	}
	if p.Type != string(dep.Type) {
		return nil, unresolved("is a " + p.Type)
	}
	if !p.IsSystem() {
		pkg, err := r.draftPackage(ctx, r.DB, p)
		if err != nil {
			return nil, unresolved("has no valid draft: " + err.Error())
		}
		return pkg, nil
	}
	rng := strings.TrimSpace(dep.Range)
	if rng == "" {
		rng = "*"
	}
	versions, err := cat.Versions(ctx, dep.Name)
	if err != nil {
		return nil, err
	}
	v, ok := semver.MaxSatisfying(versions, rng)
	if !ok {
		return nil, unresolved("has no version matching " + rng)
	}
	return cat.Load(ctx, dep.Name, v)
}

// bundleError maps a bundle building failure onto the lowercased AFPS code: two incompatible versions of a
// dependency are 409 bundle_conflict, an unresolved dependency or a bad manifest 400; anything else internal.
func bundleError(what string, err error) error {
	code := afps.CodeOf(err)
	kind := KindInvalid
	switch code {
	case afps.CodeBundleConflict:
		kind = KindConflict
	case afps.CodeDependencyUnresolved, afps.CodeManifestSchema, afps.CodeLimitsExceeded:
	default:
		return fmt.Errorf("bundle %s: %w", what, err)
	}
	return &RegistryError{Kind: kind, Code: strings.ToLower(string(code)), Message: "Cannot bundle " + what + ": " + err.Error(), Err: err}
}
