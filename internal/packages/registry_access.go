package packages

import (
	"context"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
)

// Who may see and change what (PACKAGES.md §2.3, §2.5):
//   - an organization sees the system packages and its own (never ephemeral rows, never another
//     organization's packages: those are 404 everywhere, as if they did not exist);
//   - an application sees the system packages and the packages installed in it (detail routes);
//   - mutations need ownership: the package belongs to the organization and its scope is the organization's
//     slug (upstream requireOwnedPackage, 403 "Fork it instead"); package deletion only needs the row to
//     belong to the organization (requireOrgPackage); system packages are immutable (403).

// visible loads a package the caller's organization may see; typ "" accepts any type.
func (r *Registry) visible(ctx context.Context, q store.Querier, c Caller, typ, id string) (*Package, error) {
	p, err := GetPackage(ctx, q, id)
	if errors.Is(err, ErrNotFound) {
		return nil, regNotFound("Package " + id + " not found")
	}
	if err != nil {
		return nil, err
	}
	if !p.VisibleToOrg(c.OrgID) || (typ != "" && p.Type != typ) {
		return nil, regNotFound("Package " + id + " not found")
	}
	return p, nil
}

// visibleInApp loads a package the caller's application may see: a system package or one installed in it.
func (r *Registry) visibleInApp(ctx context.Context, q store.Querier, c Caller, typ, id string) (*Package, error) {
	p, err := r.visible(ctx, q, c, typ, id)
	if err != nil || p.IsSystem() {
		return p, err
	}
	installed, err := regInstalled(ctx, q, c.AppID, id)
	if err != nil {
		return nil, err
	}
	if !installed {
		return nil, regNotFound("Package " + id + " not found")
	}
	return p, nil
}

// owned loads a package the caller's organization may modify (visible, not system, scope = org slug).
func (r *Registry) owned(ctx context.Context, q store.Querier, c Caller, typ, id string) (*Package, error) {
	p, err := r.visible(ctx, q, c, typ, id)
	if err != nil {
		return nil, err
	}
	if p.IsSystem() || p.OrgID != c.OrgID {
		return nil, regNotOwned(p)
	}
	slug, err := regOrgSlug(ctx, q, c.OrgID)
	if err != nil {
		return nil, err
	}
	if p.Scope() != "@"+slug {
		return nil, regNotOwned(p)
	}
	return p, nil
}

// orgPackage loads a package row of the caller's organization (any scope), refusing system packages.
func (r *Registry) orgPackage(ctx context.Context, q store.Querier, c Caller, typ, id string) (*Package, error) {
	p, err := r.visible(ctx, q, c, typ, id)
	if err != nil {
		return nil, err
	}
	if p.IsSystem() || p.OrgID != c.OrgID {
		return nil, regNotOwned(p)
	}
	return p, nil
}

// regInstalled reports whether a package is installed in an application.
func regInstalled(ctx context.Context, q store.Querier, appID, id string) (bool, error) {
	if appID == "" {
		return false, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM application_packages WHERE application_id = ? AND package_id = ?`,
		appID, id).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("installed %s: %w", id, err)
	}
	return n > 0, nil
}

// regAutoInstall installs a package into an application unless it already is (create, import, fork).
func regAutoInstall(ctx context.Context, q store.Querier, appID, id string) error {
	if appID == "" {
		return nil
	}
	t := regNow()
	_, err := q.ExecContext(ctx, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?) ON CONFLICT (application_id, package_id) DO NOTHING`, appID, id, true, t, t)
	if err != nil {
		return fmt.Errorf("install %s in %s: %w", id, appID, err)
	}
	return nil
}
