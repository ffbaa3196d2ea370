package packages

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/store"
)

// ForkResult is the answer of a fork.
type ForkResult struct {
	PackageID  string
	Type       string
	ForkedFrom string
}

// Fork copies the latest published version of a package the organization sees but does not own (a system
// package, or one imported under a foreign scope) into "@<orgSlug>/<name or the source's name>" (PACKAGES.md
// §2.4): same files with manifest.name renamed, forked_from set, the same version number published in the fork,
// installed in the caller's application.
func (r *Registry) Fork(ctx context.Context, c Caller, id, name string) (*ForkResult, error) {
	if name != "" && !afps.ValidSlug(name) {
		return nil, regInvalid("invalid_request", fmt.Sprintf("Invalid name %q: lowercase letters, digits and inner hyphens", name))
	}
	slug, err := regOrgSlug(ctx, r.DB, c.OrgID)
	if err != nil {
		return nil, err
	}
	var out *ForkResult
	err = r.inTx(ctx, func(tx *store.Tx, j *blobJournal) error {
		src, err := r.visible(ctx, tx, c, "", id)
		if err != nil {
			return err
		}
		if src.Scope() == "@"+slug {
			return regInvalid("invalid_request", "You already own this package")
		}
		v, err := latestVersion(ctx, tx, id)
		if err != nil {
			return err
		}
		if v == nil {
			return regInvalid("invalid_request", "Package "+id+" has no published version to fork")
		}
		if name == "" {
			name = src.Name()
		}
		target := "@" + slug + "/" + name
		if err := LockPackage(ctx, tx, target); err != nil {
			return err
		}
		if _, err := GetPackage(ctx, tx, target); err == nil {
			return regInvalid("name_collision", "A package named "+target+" already exists")
		}
		files, _, err := r.versionFiles(ctx, v)
		if err != nil {
			return err
		}
		manifest, err := setJSONMember(files[afps.ManifestFile], "name", target, false)
		if err != nil {
			return fmt.Errorf("rename fork of %s: %w", id, err)
		}
		files[afps.ManifestFile] = manifest
		pkg, err := afps.LoadPackage(files, afps.ValidateOptions{})
		if err != nil {
			return regInvalid("invalid_request", "Version "+v.Version+" of "+id+" cannot be forked: "+err.Error())
		}
		archive, err := afps.WritePackage(files)
		if err != nil {
			return fmt.Errorf("write fork archive of %s: %w", id, err)
		}
		t := regNow()
		p := &Package{ID: target, OrgID: c.OrgID, Type: src.Type, Source: SourceLocal, DraftManifest: compactJSON(manifest),
			DraftContent: pkg.Content(), LockVersion: 1, ForkedFrom: id, CreatedBy: c.UserID, CreatedAt: t, UpdatedAt: t}
		if err := insertPackage(ctx, tx, p); err != nil {
			return err
		}
		if err := r.putDraftFiles(ctx, j, p, files); err != nil {
			return err
		}
		if p.Type == TypeProvider {
			if err := regEnableProvider(ctx, tx, c.AppID, target); err != nil {
				return err
			}
		}
		if _, err := r.publish(ctx, tx, j, p, pkg.Manifest, archive, c.UserID, publishOptions{at: t}); err != nil {
			return err
		}
		if err := regAutoInstall(ctx, tx, c.AppID, target); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.forked", target, map[string]any{"forkedFrom": id, "version": v.Version})
		out = &ForkResult{PackageID: target, Type: p.Type, ForkedFrom: id}
		return nil
	})
	return out, err
}
