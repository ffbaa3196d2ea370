package packages

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Summary is one entry of `GET /api/packages/<t>`.
type Summary struct {
	*Package
	DisplayName string
	Description string
	Version     string // the draft manifest's version
	// UsedByAgents counts the organization's agents whose draft depends on this package (skills, tools,
	// providers; upstream computes it the same way, by scanning drafts).
	UsedByAgents int
}

// List returns the packages of one type the caller's application sees: the system packages first, then the
// packages installed in the application; ephemeral rows never appear.
func (r *Registry) List(ctx context.Context, c Caller, typ string) ([]Summary, error) {
	rows, err := r.DB.QueryContext(ctx, `SELECT `+packageColumns+` FROM packages p
		WHERE p.type = ? AND p.ephemeral = ? AND (p.source = 'system'
			OR (p.org_id = ? AND p.id IN (SELECT package_id FROM application_packages WHERE application_id = ?)))
		ORDER BY CASE WHEN p.source = 'system' THEN 0 ELSE 1 END, p.id`, typ, false, c.OrgID, c.AppID)
	if err != nil {
		return nil, fmt.Errorf("list %s packages: %w", typ, err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		p, err := scanPackage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s package: %w", typ, err)
		}
		s := Summary{Package: p}
		if m, err := afps.ParseManifest(p.DraftManifest); err == nil {
			s.DisplayName, s.Description, s.Version = m.DisplayName, m.Description, m.Version
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s packages: %w", typ, err)
	}
	if typ != TypeAgent && len(out) > 0 {
		used, err := agentDependencyCounts(ctx, r.DB, c.OrgID, typ)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].UsedByAgents = used[out[i].ID]
		}
	}
	return out, nil
}

// agentDependencyCounts counts, per package id, the organization's agents whose draft declares it in the
// section of typ.
func agentDependencyCounts(ctx context.Context, q store.Querier, orgID, typ string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT draft_manifest FROM packages WHERE org_id = ? AND type = ? AND ephemeral = ?`,
		orgID, TypeAgent, false)
	if err != nil {
		return nil, fmt.Errorf("agent dependencies: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("scan agent dependencies: %w", err)
		}
		var m struct {
			Dependencies map[string]map[string]json.RawMessage `json:"dependencies"`
		}
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		for id := range m.Dependencies[Folder(typ)] {
			counts[id]++
		}
	}
	return counts, rows.Err()
}

// Detail is `GET /api/packages/<t>/{scope}/{name}` for skills, tools and providers (and the plain agent
// detail when no richer one is registered): the row plus version facts and the draft content.
type Detail struct {
	*Package
	VersionCount         int
	HasUnarchivedChanges bool
	LatestVersion        string // the version `latest` points at ("" = none)
	DistTags             map[string]string
	Content              string  // draft_content; for tools TOOL.md
	SourceCode           *string // tools: the draft entrypoint source
}

// Detail returns a package the caller's application sees (system, or installed in it); 404 otherwise.
func (r *Registry) Detail(ctx context.Context, c Caller, typ, id string) (*Detail, error) {
	p, err := r.visibleInApp(ctx, r.DB, c, typ, id)
	if err != nil {
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
	files := map[string][]byte{}
	if p.Type == TypeTool {
		if files, err = r.draftFiles(ctx, r.DB, p); err != nil {
			return nil, err
		}
	}
	// The draft content on the wire keeps upstream's meaning: for tools, TOOL.md (the source is sourceCode).
	content, source := p.DraftContent, (*string)(nil)
	if p.Type == TypeTool {
		content, source = apiContent(p.Type, files)
	}
	return &Detail{Package: p, VersionCount: len(versions), HasUnarchivedChanges: HasUnarchivedChanges(p, versions),
		LatestVersion: tags["latest"], DistTags: tags, Content: content, SourceCode: source}, nil
}

// HasUnarchivedChanges is upstream's "has unpublished changes": not a system package, and no version yet or
// the draft changed after the newest version was created.
func HasUnarchivedChanges(p *Package, versions []*Version) bool {
	if p.IsSystem() {
		return false
	}
	if len(versions) == 0 {
		return true
	}
	newest := versions[0].CreatedAt
	for _, v := range versions[1:] {
		if v.CreatedAt.After(newest.Time) {
			newest = v.CreatedAt
		}
	}
	return p.UpdatedAt.After(newest.Time)
}
