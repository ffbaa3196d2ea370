package packages

import (
	"encoding/json"

	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Wire shapes of the registry routes (API.md §4.7).

// PackageItem is one entry of `GET /api/packages/<t>`.
type PackageItem struct {
	ID            string       `json:"id" doc:"@scope/name"`
	Type          string       `json:"type" enum:"agent,skill,tool,provider"`
	Source        string       `json:"source" enum:"local,system"`
	Scope         string       `json:"scope" doc:"@scope"`
	Name          string       `json:"name"`
	DisplayName   string       `json:"displayName"`
	Description   string       `json:"description"`
	Version       string       `json:"version" doc:"Version of the draft manifest"`
	OrgID         *string      `json:"orgId" doc:"Owning organization; null for system packages"`
	ForkedFrom    *string      `json:"forkedFrom"`
	AutoInstalled bool         `json:"autoInstalled"`
	LockVersion   int          `json:"lockVersion"`
	UsedByAgents  *int         `json:"usedByAgents,omitempty" doc:"Skills, tools, providers: agents of the organization whose draft depends on it"`
	CreatedAt     isotime.Time `json:"createdAt" format:"date-time"`
	UpdatedAt     isotime.Time `json:"updatedAt" format:"date-time"`
}

func toItem(s packages.Summary) PackageItem {
	it := PackageItem{ID: s.ID, Type: s.Type, Source: s.Source, Scope: s.Scope(), Name: s.Name(), DisplayName: s.DisplayName,
		Description: s.Description, Version: s.Version, OrgID: optional(s.OrgID), ForkedFrom: optional(s.ForkedFrom),
		AutoInstalled: s.AutoInstalled, LockVersion: s.LockVersion, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if s.Type != packages.TypeAgent {
		n := s.UsedByAgents
		it.UsedByAgents = &n
	}
	return it
}

// PackageDetail is `GET /api/packages/<t>/{scope}/{name}` for skills, tools and providers (and the plain
// agent detail when the agents area registers none): the packages row plus version facts.
type PackageDetail struct {
	ID                   string            `json:"id"`
	OrgID                *string           `json:"orgId"`
	Type                 string            `json:"type" enum:"agent,skill,tool,provider"`
	Source               string            `json:"source" enum:"local,system"`
	DraftManifest        json.RawMessage   `json:"draftManifest" doc:"The draft manifest"`
	DraftContent         string            `json:"draftContent" doc:"prompt.md, SKILL.md, TOOL.md or PROVIDER.md of the draft"`
	AutoInstalled        bool              `json:"autoInstalled"`
	Ephemeral            bool              `json:"ephemeral"`
	LockVersion          int               `json:"lockVersion" doc:"Send it back on PUT (optimistic locking)"`
	ForkedFrom           *string           `json:"forkedFrom"`
	CreatedBy            *string           `json:"createdBy"`
	CreatedAt            isotime.Time      `json:"createdAt" format:"date-time"`
	UpdatedAt            isotime.Time      `json:"updatedAt" format:"date-time"`
	VersionCount         int               `json:"versionCount"`
	HasUnarchivedChanges bool              `json:"hasUnarchivedChanges" doc:"The draft changed since the newest version"`
	LatestVersion        *string           `json:"latestVersion" doc:"Version the latest dist-tag points at"`
	DistTags             map[string]string `json:"distTags"`
	SourceCode           *string           `json:"sourceCode,omitempty" doc:"Tools: the entrypoint source of the draft"`
}

func toDetail(d *packages.Detail) PackageDetail {
	return PackageDetail{ID: d.ID, OrgID: optional(d.OrgID), Type: d.Type, Source: d.Source, DraftManifest: rawJSON(d.DraftManifest),
		DraftContent: d.Content, AutoInstalled: d.AutoInstalled, Ephemeral: d.Ephemeral, LockVersion: d.LockVersion,
		ForkedFrom: optional(d.ForkedFrom), CreatedBy: optional(d.CreatedBy), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		VersionCount: d.VersionCount, HasUnarchivedChanges: d.HasUnarchivedChanges, LatestVersion: optional(d.LatestVersion),
		DistTags: d.DistTags, SourceCode: d.SourceCode}
}

// VersionObject is one version in `GET …/versions`, yank and unyank answers.
type VersionObject struct {
	ID           int64        `json:"id"`
	Version      string       `json:"version"`
	Integrity    string       `json:"integrity" doc:"sha256-<base64> of the stored archive"`
	ArtifactSize int64        `json:"artifactSize"`
	Yanked       bool         `json:"yanked"`
	YankedReason *string      `json:"yankedReason"`
	CreatedBy    *string      `json:"createdBy"`
	CreatedAt    isotime.Time `json:"createdAt" format:"date-time"`
	DistTags     []string     `json:"distTags" doc:"Dist-tags pointing at this version"`
}

func toVersion(v packages.VersionView) VersionObject {
	tags := v.DistTags
	if tags == nil {
		tags = []string{}
	}
	return VersionObject{ID: v.ID, Version: v.Version.Version, Integrity: v.Integrity, ArtifactSize: v.ArtifactSize,
		Yanked: v.Yanked, YankedReason: optional(v.YankedReason), CreatedBy: optional(v.CreatedBy), CreatedAt: v.CreatedAt,
		DistTags: tags}
}

// VersionDetail is `GET …/versions/{version}`.
type VersionDetail struct {
	ID           int64           `json:"id"`
	Version      string          `json:"version"`
	Manifest     json.RawMessage `json:"manifest"`
	Content      string          `json:"content" doc:"prompt.md, SKILL.md, TOOL.md or PROVIDER.md of that version"`
	SourceCode   *string         `json:"sourceCode,omitempty" doc:"Tools: the entrypoint source"`
	Yanked       bool            `json:"yanked"`
	YankedReason *string         `json:"yankedReason"`
	Integrity    string          `json:"integrity"`
	ArtifactSize int64           `json:"artifactSize"`
	CreatedAt    isotime.Time    `json:"createdAt" format:"date-time"`
	DistTags     []string        `json:"distTags"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rawJSON keeps a stored JSON document, or null when empty.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(b)
}
