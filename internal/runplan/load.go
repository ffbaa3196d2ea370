package runplan

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/packages"
)

// loadedPackage is one package of the run's bundle with its files.
type loadedPackage struct {
	ID       string
	Version  string
	Type     afps.Type
	Manifest *afps.Manifest
	Files    map[string][]byte
}

// bundle is the agent with what it depends on: every skill and provider of the transitive closure, and the
// tools the agent itself declares (the runner loads the root's tools only, as upstream).
type bundle struct {
	Agent     *loadedPackage
	Skills    []*loadedPackage
	Tools     []*loadedPackage
	Providers []*loadedPackage
}

func (p *Planner) system() *packages.SystemCatalog {
	if p.System != nil {
		return p.System
	}
	return packages.System()
}

// loadAgent loads the agent id as orgID sees it: the given published version, else its draft (system agents:
// the embedded version).
func (p *Planner) loadAgent(ctx context.Context, orgID, id, version string) (*loadedPackage, error) {
	pkg, err := packages.GetPackage(ctx, p.DB, id)
	if errors.Is(err, packages.ErrNotFound) {
		return nil, ErrAgentNotFound
	}
	if err != nil {
		return nil, err
	}
	// An inline run's agent is an ephemeral package of the organization, hidden from listings only.
	visible := pkg.VisibleToOrg(orgID) || pkg.Ephemeral && pkg.OrgID == orgID
	if pkg.Type != packages.TypeAgent || !visible {
		return nil, ErrAgentNotFound
	}
	if sp := p.systemPackage(id, version); sp != nil {
		return fromSystem(sp), nil
	}
	var files map[string][]byte
	switch {
	case pkg.IsSystem() && version != "":
		return nil, versionNotFound(id, version)
	case version != "":
		files, err = p.Registry.VersionFiles(ctx, id, version)
		if errors.Is(err, packages.ErrNotFound) {
			return nil, versionNotFound(id, version)
		}
	default:
		files, err = p.Registry.DraftFiles(ctx, pkg)
	}
	if err != nil {
		return nil, fmt.Errorf("load agent %s: %w", id, err)
	}
	return fromFiles(id, afps.TypeAgent, files)
}

func versionNotFound(id, version string) error {
	return &Error{Code: ErrAgentNotFound.Code, Message: "Version " + version + " of agent " + id + " not found"}
}

// systemPackage is the embedded system package id: the given version, else the highest; nil when id is not
// a system package (or has no such version).
func (p *Planner) systemPackage(id, version string) *packages.SystemPackage {
	cat := p.system()
	if version != "" {
		sp, _ := cat.Version(id, version)
		return sp
	}
	sp, _ := cat.Get(id)
	return sp
}

func fromSystem(sp *packages.SystemPackage) *loadedPackage {
	return &loadedPackage{ID: sp.ID, Version: sp.Version, Type: afps.Type(sp.Type), Manifest: sp.Manifest, Files: sp.Package.Files}
}

func fromFiles(id string, typ afps.Type, files map[string][]byte) (*loadedPackage, error) {
	m, err := afps.ParseManifest(files[afps.ManifestFile])
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", id, err)
	}
	return &loadedPackage{ID: id, Version: m.Version, Type: typ, Manifest: m, Files: files}, nil
}

// loadBundle resolves the agent's dependencies breadth-first: system packages at the highest embedded
// version satisfying the range, the organization's packages at their draft (as upstream runs do).
func (p *Planner) loadBundle(ctx context.Context, orgID string, agent *loadedPackage) (*bundle, error) {
	return walkBundle(agent, func(dep afps.Dependency, requiredBy string) (*loadedPackage, error) {
		return p.loadDependency(ctx, orgID, dep, requiredBy)
	})
}

// walkBundle visits the agent's dependency graph breadth-first, each package once, loading each with load.
// Tool dependencies count only when the agent itself declares them (tools are the agent's own).
func walkBundle(agent *loadedPackage, load func(dep afps.Dependency, requiredBy string) (*loadedPackage, error)) (*bundle, error) {
	b := &bundle{Agent: agent}
	seen := map[string]bool{agent.ID: true}
	queue := []*loadedPackage{agent}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, dep := range from.Manifest.Dependencies.All() {
			if seen[dep.Name] || dep.Type == afps.TypeTool && from != agent {
				continue
			}
			seen[dep.Name] = true
			pkg, err := load(dep, from.ID)
			if err != nil {
				return nil, err
			}
			switch dep.Type {
			case afps.TypeSkill:
				b.Skills = append(b.Skills, pkg)
			case afps.TypeTool:
				b.Tools = append(b.Tools, pkg)
			case afps.TypeProvider:
				b.Providers = append(b.Providers, pkg)
			}
			queue = append(queue, pkg)
		}
	}
	return b, nil
}

// loadDependency loads one declared dependency; a missing one is an *Error (missing_skill, missing_tool,
// missing_provider).
func (p *Planner) loadDependency(ctx context.Context, orgID string, dep afps.Dependency, requiredBy string) (*loadedPackage, error) {
	kind := string(dep.Type)
	missing := func(why string) error {
		return &Error{Code: "missing_" + kind, Message: capitalize(kind) + " " + dep.Name + " required by " + requiredBy + " " + why}
	}
	rng := strings.TrimSpace(dep.Range)
	if rng == "" {
		rng = "*"
	}
	cat := p.system()
	if cat.IsSystem(dep.Name) {
		versions := cat.Versions(dep.Name)
		for i := len(versions) - 1; i >= 0; i-- {
			if semver.Satisfies(versions[i].Version, rng) {
				if versions[i].Type != kind {
					return nil, missing("is not a " + kind)
				}
				return fromSystem(versions[i]), nil
			}
		}
		return nil, missing("has no version matching " + rng)
	}
	pkg, err := packages.GetPackage(ctx, p.DB, dep.Name)
	if errors.Is(err, packages.ErrNotFound) || err == nil && !pkg.VisibleToOrg(orgID) {
		return nil, missing("was not found")
	}
	if err != nil {
		return nil, err
	}
	if pkg.Type != kind {
		return nil, missing("is not a " + kind)
	}
	files, err := p.Registry.DraftFiles(ctx, pkg)
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", kind, dep.Name, err)
	}
	return fromFiles(dep.Name, dep.Type, files)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// --- what the prompt and the workspace need of the packages ---

func (pkg *loadedPackage) tool() Tool {
	m := pkg.Manifest
	t := Tool{ID: pkg.ID, Name: pkg.ID, Description: m.Description, Doc: string(pkg.Files[afps.ToolDocFile])}
	if m.Tool != nil {
		if m.Tool.Name != "" {
			t.Name = m.Tool.Name
		}
		if m.Tool.Description != "" {
			t.Description = m.Tool.Description
		}
	}
	return t
}

func (pkg *loadedPackage) skill() Skill {
	doc := afps.ParseSkillMD(pkg.Files[afps.SkillFile])
	s := Skill{ID: pkg.ID, Name: doc.Name, Description: doc.Description}
	if s.Name == "" {
		s.Name = pkg.Manifest.DisplayName
	}
	if s.Description == "" {
		s.Description = pkg.Manifest.Description
	}
	return s
}

func (pkg *loadedPackage) provider() Provider {
	m := pkg.Manifest
	pr := Provider{ID: pkg.ID, DisplayName: m.DisplayName, Description: m.Description, DocsURL: m.DocsURL,
		Doc: string(pkg.Files[afps.ProviderFile])}
	if d := m.Definition; d != nil {
		pr.AuthMode, pr.AuthorizedURIs, pr.AllowAllURIs = d.AuthMode, d.AuthorizedURIs, d.AllowAllURIs
	}
	return pr
}

func (pkg *loadedPackage) files() PackageFiles { return PackageFiles{ID: pkg.ID, Files: pkg.Files} }
