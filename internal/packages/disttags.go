package packages

import (
	"context"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Dist-tags (PACKAGES.md §1.3): names matching semver.ValidDistTag pointing at one version each. `latest` is
// managed by the platform (moved on publish, yank, unyank and version deletion) and cannot be set or removed by
// hand; custom tags are set and removed through the API (upstream has no such API at this commit).

// Tags returns the dist-tags of a package visible to the caller's organization.
func (r *Registry) Tags(ctx context.Context, c Caller, typ, id string) (map[string]string, error) {
	if _, err := r.visible(ctx, r.DB, c, typ, id); err != nil {
		return nil, err
	}
	return DistTags(ctx, r.DB, id)
}

// SetTag points a custom dist-tag of an owned package at one exact, non-yanked version and returns every tag.
func (r *Registry) SetTag(ctx context.Context, c Caller, typ, id, tag, version string) (map[string]string, error) {
	if err := checkTagName(tag); err != nil {
		return nil, err
	}
	var out map[string]string
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
		if v.Yanked {
			return regInvalid("version_yanked", "Version "+version+" is yanked and cannot be tagged")
		}
		if err := setTag(ctx, tx, id, tag, v.ID); err != nil {
			return err
		}
		regAudit(ctx, tx, c, "package.dist_tag_set", id, map[string]any{"tag": tag, "version": version})
		out, err = DistTags(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteTag removes a custom dist-tag of an owned package (404 when it does not exist).
func (r *Registry) DeleteTag(ctx context.Context, c Caller, typ, id, tag string) error {
	if err := checkTagName(tag); err != nil {
		return err
	}
	return r.inTx(ctx, func(tx *store.Tx, _ *blobJournal) error {
		if err := LockPackage(ctx, tx, id); err != nil {
			return err
		}
		if _, err := r.owned(ctx, tx, c, typ, id); err != nil {
			return err
		}
		n, err := execRows(ctx, tx, `DELETE FROM package_dist_tags WHERE package_id = ? AND tag = ?`, id, tag)
		if err != nil {
			return fmt.Errorf("remove dist-tag %s of %s: %w", tag, id, err)
		}
		if n == 0 {
			return regNotFound("Dist-tag " + tag + " of " + id + " not found")
		}
		regAudit(ctx, tx, c, "package.dist_tag_removed", id, map[string]any{"tag": tag})
		return nil
	})
}

// checkTagName refuses malformed names and the protected `latest`.
func checkTagName(tag string) error {
	if semver.IsProtectedTag(tag) {
		return regInvalid("invalid_request", "The "+tag+" dist-tag is managed by the platform and cannot be changed by hand")
	}
	if !semver.ValidDistTag(tag) {
		return regInvalid("invalid_request", fmt.Sprintf("Invalid dist-tag name %q (expected ^[a-z][a-z0-9._-]*$)", tag))
	}
	if semver.Valid(tag) {
		return regInvalid("invalid_request", "A dist-tag name cannot be a version")
	}
	return nil
}

// setTag points a tag at a version row (insert or move).
func setTag(ctx context.Context, q store.Querier, id, tag string, versionID int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO package_dist_tags (package_id, tag, version_id, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (package_id, tag) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`,
		id, tag, versionID, regNow())
	if err != nil {
		return fmt.Errorf("set dist-tag %s of %s: %w", tag, id, err)
	}
	return nil
}
