package packages

import (
	"context"
	"encoding/json"
	"fmt"
)

// Library is `GET /api/library`: the organization's applications and every package it can see (system and
// its own, never ephemeral), grouped by type, each with the applications it is installed in.
type Library struct {
	Object       string               `json:"object" enum:"library"`
	Applications []LibraryApplication `json:"applications"`
	Packages     LibraryPackages      `json:"packages"`
}

// LibraryPackages are the library's packages by type, system packages first then by id.
type LibraryPackages struct {
	Agent    []LibraryEntry `json:"agent"`
	Skill    []LibraryEntry `json:"skill"`
	Tool     []LibraryEntry `json:"tool"`
	Provider []LibraryEntry `json:"provider"`
}

func (l *LibraryPackages) add(e LibraryEntry) {
	switch e.Type {
	case TypeAgent:
		l.Agent = append(l.Agent, e)
	case TypeSkill:
		l.Skill = append(l.Skill, e)
	case TypeTool:
		l.Tool = append(l.Tool, e)
	case TypeProvider:
		l.Provider = append(l.Provider, e)
	}
}

// LibraryApplication is an application of the library view.
type LibraryApplication struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
}

// LibraryEntry is one package of the library view.
type LibraryEntry struct {
	ID          string   `json:"id"`
	Type        string   `json:"type" enum:"agent,skill,tool,provider"`
	Source      string   `json:"source" enum:"local,system"`
	Name        string   `json:"name" doc:"displayName of the draft manifest, else the package id"`
	Description string   `json:"description"`
	InstalledIn []string `json:"installedIn" doc:"Ids of the applications the package is installed in"`
}

// Library lists the organization's packages with their installations. An API key sees only its own
// application (in applications and in installedIn).
func (s *Installations) Library(ctx context.Context, c AppCaller) (*Library, error) {
	lib := &Library{Object: "library", Applications: []LibraryApplication{},
		Packages: LibraryPackages{Agent: []LibraryEntry{}, Skill: []LibraryEntry{}, Tool: []LibraryEntry{}, Provider: []LibraryEntry{}}}
	query := `SELECT id, name, is_default FROM applications WHERE org_id = ?`
	args := []any{c.OrgID}
	if c.APIKey {
		query += ` AND id = ?`
		args = append(args, c.AppID)
	}
	rows, err := s.DB.QueryContext(ctx, query+` ORDER BY is_default DESC, created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("library applications: %w", err)
	}
	visibleApps := map[string]bool{}
	for rows.Next() {
		var a LibraryApplication
		if err := rows.Scan(&a.ID, &a.Name, &a.IsDefault); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan application: %w", err)
		}
		visibleApps[a.ID] = true
		lib.Applications = append(lib.Applications, a)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("library applications: %w", err)
	}

	installed := map[string][]string{}
	rows, err = s.DB.QueryContext(ctx, `SELECT a.package_id, a.application_id FROM application_packages a
		JOIN applications app ON app.id = a.application_id WHERE app.org_id = ? ORDER BY app.is_default DESC, app.created_at, app.id`, c.OrgID)
	if err != nil {
		return nil, fmt.Errorf("library installations: %w", err)
	}
	for rows.Next() {
		var pkg, app string
		if err := rows.Scan(&pkg, &app); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan installation: %w", err)
		}
		if visibleApps[app] {
			installed[pkg] = append(installed[pkg], app)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("library installations: %w", err)
	}

	rows, err = s.DB.QueryContext(ctx, `SELECT id, type, source, draft_manifest FROM packages
		WHERE ephemeral = ? AND (org_id IS NULL OR org_id = ?)
		ORDER BY CASE WHEN source = 'system' THEN 0 ELSE 1 END, id`, false, c.OrgID)
	if err != nil {
		return nil, fmt.Errorf("library packages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e LibraryEntry
		var manifest []byte
		if err := rows.Scan(&e.ID, &e.Type, &e.Source, &manifest); err != nil {
			return nil, fmt.Errorf("scan package: %w", err)
		}
		info := apManifestInfo(manifest)
		e.Name, e.Description = info.DisplayName, info.Description
		if e.Name == "" {
			e.Name = e.ID
		}
		e.InstalledIn = installed[e.ID]
		if e.InstalledIn == nil {
			e.InstalledIn = []string{}
		}
		lib.Packages.add(e)
	}
	return lib, rows.Err()
}

// apInfo is the descriptive part of a draft manifest.
type apInfo struct {
	DisplayName   string   `json:"displayName"`
	Description   string   `json:"description"`
	Version       string   `json:"version"`
	SchemaVersion string   `json:"schemaVersion"`
	Author        string   `json:"author"`
	Keywords      []string `json:"keywords"`
}

// apManifestInfo reads the descriptive members of a manifest leniently: members of the wrong type are empty.
func apManifestInfo(manifest []byte) apInfo {
	var info apInfo
	members, err := apMembers(manifest)
	if err != nil {
		return info
	}
	str := func(v json.RawMessage) string {
		var s string
		_ = json.Unmarshal(v, &s)
		return s
	}
	for _, m := range members {
		switch m.Key {
		case "displayName":
			info.DisplayName = str(m.Value)
		case "description":
			info.Description = str(m.Value)
		case "version":
			info.Version = str(m.Value)
		case "schemaVersion":
			info.SchemaVersion = str(m.Value)
		case "author":
			info.Author = str(m.Value)
		case "keywords":
			var all []any
			_ = json.Unmarshal(m.Value, &all)
			for _, k := range all {
				if s, ok := k.(string); ok {
					info.Keywords = append(info.Keywords, s)
				}
			}
		}
	}
	return info
}
