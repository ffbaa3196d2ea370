package packages

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Types of packages, as stored in packages.type.
const (
	TypeAgent    = "agent"
	TypeSkill    = "skill"
	TypeTool     = "tool"
	TypeProvider = "provider"
)

// Sources of packages.
const (
	SourceLocal  = "local"
	SourceSystem = "system"
)

// Blob buckets and keys (PACKAGES.md §2.2).
const (
	BucketVersions = "agent-packages"   // <packageId>/<version>.afps
	BucketLibrary  = "library-packages" // <orgId>/<folder>/<packageId>.afps, _system/<folder>/<packageId>.afps
)

// VersionKey is the blob key of a published version archive.
func VersionKey(packageID, version string) string { return packageID + "/" + version + ".afps" }

// DraftKey is the blob key of a package's draft files; orgID "" means a system package.
func DraftKey(orgID, typ, packageID string) string {
	if orgID == "" {
		orgID = "_system"
	}
	return orgID + "/" + Folder(typ) + "/" + packageID + ".afps"
}

// Folder is the plural used in URLs and storage ("agents", "skills", ...).
func Folder(typ string) string { return typ + "s" }

// TypeFromFolder maps a URL segment back to a type; "" when unknown.
func TypeFromFolder(folder string) string {
	switch folder {
	case "agents", "skills", "tools", "providers":
		return strings.TrimSuffix(folder, "s")
	}
	return ""
}

// ErrNotFound is returned when a package or version does not exist (or is not visible).
var ErrNotFound = errors.New("package not found")

// Package is a row of packages: the editable draft of one package id.
type Package struct {
	ID            string
	OrgID         string // "" for system packages
	Type          string
	Source        string
	DraftManifest json.RawMessage
	DraftContent  string
	AutoInstalled bool
	LockVersion   int
	ForkedFrom    string
	Ephemeral     bool
	CreatedBy     string
	CreatedAt     isotime.Time
	UpdatedAt     isotime.Time
}

// IsSystem reports whether the package ships with the platform (immutable through the API).
func (p *Package) IsSystem() bool { return p.Source == SourceSystem }

// Scope returns "@scope" of the id.
func (p *Package) Scope() string { s, _, _ := strings.Cut(p.ID, "/"); return s }

// Name returns the name part of the id.
func (p *Package) Name() string { _, n, _ := strings.Cut(p.ID, "/"); return n }

// Version is a row of package_versions: an immutable published archive.
type Version struct {
	ID           int64
	PackageID    string
	Version      string
	Integrity    string
	ArtifactSize int64
	Manifest     json.RawMessage
	Yanked       bool
	YankedReason string
	CreatedBy    string
	CreatedAt    isotime.Time
}

const packageColumns = `id, org_id, type, source, draft_manifest, draft_content, auto_installed, lock_version,
	forked_from, ephemeral, created_by, created_at, updated_at`

func scanPackage(row interface{ Scan(...any) error }) (*Package, error) {
	var p Package
	var orgID, forkedFrom, createdBy sql.NullString
	var manifest []byte
	err := row.Scan(&p.ID, &orgID, &p.Type, &p.Source, &manifest, &p.DraftContent, &p.AutoInstalled,
		&p.LockVersion, &forkedFrom, &p.Ephemeral, &createdBy, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return nil, err
	}
	p.OrgID, p.ForkedFrom, p.CreatedBy = orgID.String, forkedFrom.String, createdBy.String
	p.DraftManifest = json.RawMessage(manifest)
	return &p, nil
}

// GetPackage loads one package row by id (ErrNotFound when absent).
func GetPackage(ctx context.Context, q store.Querier, id string) (*Package, error) {
	p, err := scanPackage(q.QueryRowContext(ctx, `SELECT `+packageColumns+` FROM packages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get package %s: %w", id, err)
	}
	return p, nil
}

// VisibleToOrg reports whether an organization may see p at all: system packages, and its own.
func (p *Package) VisibleToOrg(orgID string) bool {
	return !p.Ephemeral && (p.IsSystem() || p.OrgID == orgID)
}

const versionColumns = `id, package_id, version, integrity, artifact_size, manifest, yanked, yanked_reason, created_by, created_at`

func scanVersion(row interface{ Scan(...any) error }) (*Version, error) {
	var v Version
	var reason, createdBy sql.NullString
	var manifest []byte
	err := row.Scan(&v.ID, &v.PackageID, &v.Version, &v.Integrity, &v.ArtifactSize, &manifest, &v.Yanked,
		&reason, &createdBy, &v.CreatedAt)
	if err != nil {
		return nil, err
	}
	v.YankedReason, v.CreatedBy, v.Manifest = reason.String, createdBy.String, json.RawMessage(manifest)
	return &v, nil
}

// ListVersions returns every version of a package, oldest first.
func ListVersions(ctx context.Context, q store.Querier, packageID string) ([]*Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+versionColumns+` FROM package_versions WHERE package_id = ? ORDER BY id`, packageID)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", packageID, err)
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("scan version of %s: %w", packageID, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DistTags returns tag → version string for a package.
func DistTags(ctx context.Context, q store.Querier, packageID string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.tag, v.version FROM package_dist_tags t
		JOIN package_versions v ON v.id = t.version_id WHERE t.package_id = ?`, packageID)
	if err != nil {
		return nil, fmt.Errorf("dist-tags of %s: %w", packageID, err)
	}
	defer rows.Close()
	tags := map[string]string{}
	for rows.Next() {
		var tag, version string
		if err := rows.Scan(&tag, &version); err != nil {
			return nil, fmt.Errorf("scan dist-tag of %s: %w", packageID, err)
		}
		tags[tag] = version
	}
	return tags, rows.Err()
}
