package packages

import (
	"context"
	"fmt"
)

// DraftFiles returns the files of a package's draft as a run uses them: the stored draft archive (else the
// files of its latest version), with manifest.json and the primary content (prompt.md, SKILL.md, the tool
// entrypoint, PROVIDER.md) taken from the row.
func (r *Registry) DraftFiles(ctx context.Context, p *Package) (map[string][]byte, error) {
	return r.draftFiles(ctx, r.DB, p)
}

// VersionFiles returns the files of the published version `version` (an exact version string) of package id;
// ErrNotFound when that version does not exist.
func (r *Registry) VersionFiles(ctx context.Context, id, version string) (map[string][]byte, error) {
	versions, err := ListVersions(ctx, r.DB, id)
	if err != nil {
		return nil, err
	}
	v := findVersion(versions, version)
	if v == nil {
		return nil, fmt.Errorf("version %s of %s: %w", version, id, ErrNotFound)
	}
	files, _, err := r.versionFiles(ctx, v)
	return files, err
}
