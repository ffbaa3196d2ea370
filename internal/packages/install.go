package packages

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Installations owns per-application installation (PACKAGES.md §2.5, API.md §4.3 / §5 items 5 and 23): which
// packages an application uses and with which settings (config, model, proxy, app connection profile,
// version pin, enabled), plus the org-wide library view. An application sees a package iff it is a system
// package or installed in it.
type Installations struct {
	DB *store.DB
}

// AppCaller is who acts on installations and agent settings: the organization, the application of the
// request (pinned by an API key or from X-Application-Id), the user behind the request (an API key's creator)
// and whether it is an API key, which may only reach its own application. Audit is the audit event template
// (actor, IP, user agent, request id).
type AppCaller struct {
	OrgID  string
	AppID  string
	UserID string
	APIKey bool
	Audit  audit.Event
}

// Errors of installations and agent settings. Service methods return them wrapped in an *AppPackageError
// carrying a human-readable detail; unknown packages are ErrNotFound.
var (
	ErrApplicationNotFound  = errors.New("application not found")                  // 404 not_found
	ErrApplicationForbidden = errors.New("application not reachable by this key")  // 403 forbidden
	ErrAlreadyInstalled     = errors.New("package already installed")              // 409 already_installed
	ErrNotInstalled         = errors.New("package not installed")                  // 404 package_not_installed
	ErrAgentNotFound        = errors.New("agent not found")                        // 404 agent_not_found
	ErrAppProfileNotFound   = errors.New("app profile not found")                  // 404 not_found
	ErrVersionNotFound      = errors.New("version not found")                      // 404 not_found
	ErrAgentNotOwned        = errors.New("agent not owned by the organization")    // 403 forbidden
	ErrAgentInUse           = errors.New("agent has runs in progress")             // 409 agent_in_use
	ErrInvalidSettings      = errors.New("invalid settings")                       // 400 invalid_request
	ErrInvalidConfigSchema  = errors.New("the agent's config schema is not valid") // 400 invalid_request
)

// AppPackageError is a refused installation or agent-settings operation: Err is one of the sentinels above.
type AppPackageError struct {
	Err    error
	Detail string
}

func (e *AppPackageError) Error() string { return e.Err.Error() + ": " + e.Detail }

// Unwrap returns the sentinel.
func (e *AppPackageError) Unwrap() error { return e.Err }

// ErrorDetail returns the human-readable detail of an *AppPackageError in err's chain, else err's text.
func ErrorDetail(err error) string {
	var e *AppPackageError
	if errors.As(err, &e) {
		return e.Detail
	}
	return err.Error()
}

func apErr(sentinel error, detail string) error {
	return &AppPackageError{Err: sentinel, Detail: detail}
}

// Installation is an application_packages row as POST and PUT answer it (API.md §5 item 5).
type Installation struct {
	Object        string          `json:"object" enum:"application_package"`
	ApplicationID string          `json:"applicationId"`
	PackageID     string          `json:"packageId"`
	VersionID     *int64          `json:"versionId" doc:"Pinned version (package_versions.id); null = the draft"`
	Config        json.RawMessage `json:"config" doc:"Per-application configuration (agents: validated against config.schema)"`
	ModelID       *string         `json:"modelId"`
	ProxyID       *string         `json:"proxyId"`
	AppProfileID  *string         `json:"appProfileId" doc:"Application connection profile used by this package"`
	Enabled       bool            `json:"enabled"`
	InstalledAt   isotime.Time    `json:"installedAt" format:"date-time"`
	UpdatedAt     isotime.Time    `json:"updatedAt" format:"date-time"`
}

// InstalledPackage is a row of the installed-package list and detail: the installation plus the package's
// type, source and draft manifest.
type InstalledPackage struct {
	Object        string          `json:"object" enum:"application_package"`
	PackageID     string          `json:"packageId"`
	Config        json.RawMessage `json:"config"`
	ModelID       *string         `json:"modelId"`
	ProxyID       *string         `json:"proxyId"`
	AppProfileID  *string         `json:"appProfileId"`
	VersionID     *int64          `json:"versionId"`
	Enabled       bool            `json:"enabled"`
	InstalledAt   isotime.Time    `json:"installedAt" format:"date-time"`
	UpdatedAt     isotime.Time    `json:"updatedAt" format:"date-time"`
	PackageType   string          `json:"packageType" enum:"agent,skill,tool,provider"`
	PackageSource string          `json:"packageSource" enum:"local,system"`
	DraftManifest json.RawMessage `json:"draftManifest"`
}

// RunConfig is what a local run inherits from an installation (API.md §5 item 23).
type RunConfig struct {
	Config            json.RawMessage `json:"config"`
	ModelID           *string         `json:"modelId"`
	ProxyID           *string         `json:"proxyId"`
	VersionPin        *string         `json:"versionPin" doc:"Version string of the pinned version, or null"`
	RequiredProviders []string        `json:"requiredProviders" doc:"Provider ids the manifest declares"`
}

// InstallUpdate is a partial update of an installation (PUT upsert). Set* tells whether the member was sent;
// a sent nil clears the column.
type InstallUpdate struct {
	Config          json.RawMessage // nil = unchanged; must be a JSON object
	SetModelID      bool
	ModelID         *string
	SetProxyID      bool
	ProxyID         *string
	SetAppProfileID bool
	AppProfileID    *string
	SetVersionID    bool
	VersionID       *int64
	Enabled         *bool
}

// apInstall is an application_packages row.
type apInstall struct {
	AppID        string
	PackageID    string
	VersionID    sql.NullInt64
	Config       []byte
	ModelID      sql.NullString
	ProxyID      sql.NullString
	AppProfileID sql.NullString
	Enabled      bool
	InstalledAt  isotime.Time
	UpdatedAt    isotime.Time
}

const apInstallColumns = `application_id, package_id, version_id, config, model_id, proxy_id, app_profile_id, enabled, installed_at, updated_at`

func apScanInstall(row interface{ Scan(...any) error }) (*apInstall, error) {
	var in apInstall
	err := row.Scan(&in.AppID, &in.PackageID, &in.VersionID, &in.Config, &in.ModelID, &in.ProxyID, &in.AppProfileID,
		&in.Enabled, &in.InstalledAt, &in.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// apLoadInstall returns the installation of packageID in appID, or nil when it is not installed.
func apLoadInstall(ctx context.Context, q store.Querier, appID, packageID string) (*apInstall, error) {
	in, err := apScanInstall(q.QueryRowContext(ctx, `SELECT `+apInstallColumns+` FROM application_packages
		WHERE application_id = ? AND package_id = ?`, appID, packageID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load installation of %s in %s: %w", packageID, appID, err)
	}
	return in, nil
}

func (in *apInstall) wire() *Installation {
	return &Installation{Object: "application_package", ApplicationID: in.AppID, PackageID: in.PackageID,
		VersionID: apInt(in.VersionID), Config: apObject(in.Config), ModelID: apStr(in.ModelID), ProxyID: apStr(in.ProxyID),
		AppProfileID: apStr(in.AppProfileID), Enabled: in.Enabled, InstalledAt: in.InstalledAt, UpdatedAt: in.UpdatedAt}
}

func (in *apInstall) listed(p *Package) InstalledPackage {
	return InstalledPackage{Object: "application_package", PackageID: in.PackageID, Config: apObject(in.Config),
		ModelID: apStr(in.ModelID), ProxyID: apStr(in.ProxyID), AppProfileID: apStr(in.AppProfileID), VersionID: apInt(in.VersionID),
		Enabled: in.Enabled, InstalledAt: in.InstalledAt, UpdatedAt: in.UpdatedAt, PackageType: p.Type, PackageSource: p.Source,
		DraftManifest: apObject(p.DraftManifest)}
}

// apCheckApp enforces the application rules of /api/applications/{applicationId}/...: an API key only reaches
// its own application (403), and the application must belong to the caller's organization (404).
func apCheckApp(ctx context.Context, q store.Querier, c AppCaller, appID string) error {
	if c.APIKey && c.AppID != appID {
		return apErr(ErrApplicationForbidden, "This API key cannot access another application")
	}
	var orgID string
	err := q.QueryRowContext(ctx, `SELECT org_id FROM applications WHERE id = ?`, appID).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && orgID != c.OrgID) {
		return apErr(ErrApplicationNotFound, "Application not found")
	}
	if err != nil {
		return fmt.Errorf("load application %s: %w", appID, err)
	}
	return nil
}

// apOrgPackage loads a package the organization may install: its own or a system package, never ephemeral.
func apOrgPackage(ctx context.Context, q store.Querier, orgID, id string) (*Package, error) {
	p, err := GetPackage(ctx, q, id)
	if errors.Is(err, ErrNotFound) || (err == nil && !p.VisibleToOrg(orgID)) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return p, err
}

// List returns the packages installed in appID, optionally of one type, ordered by installation.
func (s *Installations) List(ctx context.Context, c AppCaller, appID, typ string) ([]InstalledPackage, error) {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return nil, err
	}
	query := `SELECT ` + apPrefixed("a.", apInstallColumns) + `, ` + apPrefixed("p.", packageColumns) + `
		FROM application_packages a JOIN packages p ON p.id = a.package_id
		WHERE a.application_id = ? AND p.ephemeral = ? AND (p.org_id IS NULL OR p.org_id = ?)`
	args := []any{appID, false, c.OrgID}
	if typ != "" {
		query += ` AND p.type = ?`
		args = append(args, typ)
	}
	rows, err := s.DB.QueryContext(ctx, query+` ORDER BY a.installed_at, a.package_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list installations of %s: %w", appID, err)
	}
	defer rows.Close()
	out := []InstalledPackage{}
	for rows.Next() {
		in, p, err := apScanInstallPackage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan installation: %w", err)
		}
		out = append(out, in.listed(p))
	}
	return out, rows.Err()
}

// apScanInstallPackage scans the installation columns followed by the package columns.
func apScanInstallPackage(row interface{ Scan(...any) error }) (*apInstall, *Package, error) {
	var in apInstall
	var p Package
	var orgID, forkedFrom, createdBy sql.NullString
	var manifest []byte
	err := row.Scan(&in.AppID, &in.PackageID, &in.VersionID, &in.Config, &in.ModelID, &in.ProxyID, &in.AppProfileID,
		&in.Enabled, &in.InstalledAt, &in.UpdatedAt,
		&p.ID, &orgID, &p.Type, &p.Source, &manifest, &p.DraftContent, &p.AutoInstalled, &p.LockVersion, &forkedFrom,
		&p.Ephemeral, &createdBy, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return nil, nil, err
	}
	p.OrgID, p.ForkedFrom, p.CreatedBy, p.DraftManifest = orgID.String, forkedFrom.String, createdBy.String, manifest
	return &in, &p, nil
}

// Install installs a package of the organization (or a system package) in appID with an optional config object.
func (s *Installations) Install(ctx context.Context, c AppCaller, appID, packageID string, config json.RawMessage) (*Installation, error) {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return nil, err
	}
	cfg, err := apConfigObject(config)
	if err != nil {
		return nil, err
	}
	var out *Installation
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := apOrgPackage(ctx, tx, c.OrgID, packageID); err != nil {
			return err
		}
		now := isotime.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (application_id, package_id) DO NOTHING`, appID, packageID, string(cfg), true, now, now)
		if err != nil {
			return fmt.Errorf("install %s in %s: %w", packageID, appID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apErr(ErrAlreadyInstalled, "Package "+packageID+" is already installed in this application")
		}
		in, err := apLoadInstall(ctx, tx, appID, packageID)
		if err != nil || in == nil {
			return fmt.Errorf("reload installation: %w", errors.Join(err, store.ErrNotFound))
		}
		out = in.wire()
		apAudit(ctx, tx, c, appID, "package.installed", packageID, out)
		return nil
	})
	return out, err
}

// Get returns one installation of appID (ErrNotInstalled when the package is not installed there).
func (s *Installations) Get(ctx context.Context, c AppCaller, appID, packageID string) (*InstalledPackage, error) {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return nil, err
	}
	in, p, err := apInstalled(ctx, s.DB, c.OrgID, appID, packageID)
	if err != nil {
		return nil, err
	}
	row := in.listed(p)
	return &row, nil
}

// apInstalled loads an installation with its package, refusing packages the organization cannot see.
func apInstalled(ctx context.Context, q store.Querier, orgID, appID, packageID string) (*apInstall, *Package, error) {
	notInstalled := apErr(ErrNotInstalled, "Package "+packageID+" is not installed in this application")
	in, err := apLoadInstall(ctx, q, appID, packageID)
	if err != nil {
		return nil, nil, err
	}
	if in == nil {
		return nil, nil, notInstalled
	}
	p, err := apOrgPackage(ctx, q, orgID, packageID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, notInstalled
	}
	if err != nil {
		return nil, nil, err
	}
	return in, p, nil
}

// Update changes the settings of an installation, installing the package first when it is not (upsert).
func (s *Installations) Update(ctx context.Context, c AppCaller, appID, packageID string, u InstallUpdate) (*Installation, error) {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return nil, err
	}
	var cfg []byte
	if u.Config != nil {
		var err error
		if cfg, err = apConfigObject(u.Config); err != nil {
			return nil, err
		}
	}
	var out *Installation
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := apOrgPackage(ctx, tx, c.OrgID, packageID); err != nil {
			return err
		}
		if u.SetAppProfileID && u.AppProfileID != nil {
			if err := apCheckAppProfile(ctx, tx, appID, *u.AppProfileID); err != nil {
				return err
			}
		}
		if u.SetVersionID && u.VersionID != nil {
			if err := apCheckVersion(ctx, tx, packageID, *u.VersionID); err != nil {
				return err
			}
		}
		before, err := apEnsureInstall(ctx, tx, appID, packageID)
		if err != nil {
			return err
		}
		sets, args := []string{"updated_at = ?"}, []any{isotime.Now()}
		if cfg != nil {
			sets, args = append(sets, "config = ?"), append(args, string(cfg))
		}
		if u.SetModelID {
			sets, args = append(sets, "model_id = ?"), append(args, apNullStr(u.ModelID))
		}
		if u.SetProxyID {
			sets, args = append(sets, "proxy_id = ?"), append(args, apNullStr(u.ProxyID))
		}
		if u.SetAppProfileID {
			sets, args = append(sets, "app_profile_id = ?"), append(args, apNullStr(u.AppProfileID))
		}
		if u.SetVersionID {
			var v any
			if u.VersionID != nil {
				v = *u.VersionID
			}
			sets, args = append(sets, "version_id = ?"), append(args, v)
		}
		if u.Enabled != nil {
			sets, args = append(sets, "enabled = ?"), append(args, *u.Enabled)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE application_packages SET `+strings.Join(sets, ", ")+`
			WHERE application_id = ? AND package_id = ?`, append(args, appID, packageID)...); err != nil {
			return fmt.Errorf("update installation of %s in %s: %w", packageID, appID, err)
		}
		in, err := apLoadInstall(ctx, tx, appID, packageID)
		if err != nil || in == nil {
			return fmt.Errorf("reload installation: %w", errors.Join(err, store.ErrNotFound))
		}
		out = in.wire()
		e := apAuditEvent(c, appID, "package.installation_updated", packageID)
		e.Before, e.After = before.wire(), out
		audit.Record(ctx, tx, e)
		return nil
	})
	return out, err
}

// apEnsureInstall returns the installation of packageID in appID, creating an empty one when there is none.
func apEnsureInstall(ctx context.Context, q store.Querier, appID, packageID string) (*apInstall, error) {
	now := isotime.Now()
	if _, err := q.ExecContext(ctx, `INSERT INTO application_packages (application_id, package_id, config, enabled, installed_at, updated_at)
		VALUES (?, ?, '{}', ?, ?, ?) ON CONFLICT (application_id, package_id) DO NOTHING`, appID, packageID, true, now, now); err != nil {
		return nil, fmt.Errorf("install %s in %s: %w", packageID, appID, err)
	}
	in, err := apLoadInstall(ctx, q, appID, packageID)
	if err != nil || in == nil {
		return nil, fmt.Errorf("load installation: %w", errors.Join(err, store.ErrNotFound))
	}
	return in, nil
}

// Uninstall removes a package from appID (ErrNotInstalled when it is not installed there).
func (s *Installations) Uninstall(ctx context.Context, c AppCaller, appID, packageID string) error {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, _, err := apInstalled(ctx, tx, c.OrgID, appID, packageID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM application_packages WHERE application_id = ? AND package_id = ?`,
			appID, packageID); err != nil {
			return fmt.Errorf("uninstall %s from %s: %w", packageID, appID, err)
		}
		e := apAuditEvent(c, appID, "package.uninstalled", packageID)
		e.Before = in.wire()
		audit.Record(ctx, tx, e)
		return nil
	})
}

// RunConfig returns the settings a local run of packageID inherits from its installation in appID.
func (s *Installations) RunConfig(ctx context.Context, c AppCaller, appID, packageID string) (*RunConfig, error) {
	if err := apCheckApp(ctx, s.DB, c, appID); err != nil {
		return nil, err
	}
	in, p, err := apInstalled(ctx, s.DB, c.OrgID, appID, packageID)
	if err != nil {
		return nil, err
	}
	rc := &RunConfig{Config: apObject(in.Config), ModelID: apStr(in.ModelID), ProxyID: apStr(in.ProxyID),
		RequiredProviders: apDependencyIDs(p.DraftManifest, "providers")}
	if in.VersionID.Valid {
		var v string
		err := s.DB.QueryRowContext(ctx, `SELECT version FROM package_versions WHERE id = ?`, in.VersionID.Int64).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("load pinned version of %s: %w", packageID, err)
		}
		if err == nil {
			rc.VersionPin = &v
		}
	}
	return rc, nil
}

// apCheckAppProfile requires profileID to be an application-level connection profile of appID.
func apCheckAppProfile(ctx context.Context, q store.Querier, appID, profileID string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM connection_profiles WHERE id = ? AND application_id = ?`,
		profileID, appID).Scan(&n); err != nil {
		return fmt.Errorf("check app profile %s: %w", profileID, err)
	}
	if n == 0 {
		return apErr(ErrAppProfileNotFound, "App profile not found")
	}
	return nil
}

// apCheckVersion requires versionID to be a version of packageID.
func apCheckVersion(ctx context.Context, q store.Querier, packageID string, versionID int64) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM package_versions WHERE id = ? AND package_id = ?`,
		versionID, packageID).Scan(&n); err != nil {
		return fmt.Errorf("check version %d of %s: %w", versionID, packageID, err)
	}
	if n == 0 {
		return apErr(ErrVersionNotFound, fmt.Sprintf("Version %d of %s not found", versionID, packageID))
	}
	return nil
}

// apConfigObject requires a JSON object ("" / nil = {}) and returns it compacted.
func apConfigObject(raw json.RawMessage) ([]byte, error) {
	if len(strings.TrimSpace(string(raw))) == 0 {
		return []byte("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, apErr(ErrInvalidSettings, "config: must be an object")
	}
	return apCompact(raw), nil
}

func apAuditEvent(c AppCaller, appID, action, packageID string) audit.Event {
	e := c.Audit
	e.OrgID, e.ApplicationID, e.Action, e.ResourceType, e.ResourceID = c.OrgID, appID, action, "package", packageID
	if e.ActorType == "" {
		e.ActorType, e.ActorID = audit.ActorUser, c.UserID
	}
	return e
}

func apAudit(ctx context.Context, q store.Querier, c AppCaller, appID, action, packageID string, after any) {
	e := apAuditEvent(c, appID, action, packageID)
	e.After = after
	audit.Record(ctx, q, e)
}
