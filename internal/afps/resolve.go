package afps

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
)

// Catalog is where bundle building finds dependency versions (the registry, an org's published versions, or
// packages in memory).
type Catalog interface {
	// Versions lists the versions of a package id that may be picked (yanked ones excluded). An unknown package
	// has none.
	Versions(ctx context.Context, id string) ([]string, error)
	// Load returns one version of a package.
	Load(ctx context.Context, id, version string) (*Package, error)
}

// MemCatalog is a Catalog over packages held in memory.
type MemCatalog struct {
	pkgs map[string]map[string]*Package
}

// NewMemCatalog returns a catalog of the given packages.
func NewMemCatalog(pkgs ...*Package) *MemCatalog {
	c := &MemCatalog{pkgs: map[string]map[string]*Package{}}
	for _, p := range pkgs {
		c.Add(p)
	}
	return c
}

// Add registers (or replaces) one package version.
func (c *MemCatalog) Add(p *Package) {
	if c.pkgs[p.Manifest.Name] == nil {
		c.pkgs[p.Manifest.Name] = map[string]*Package{}
	}
	c.pkgs[p.Manifest.Name][p.Manifest.Version] = p
}

// Versions implements Catalog.
func (c *MemCatalog) Versions(_ context.Context, id string) ([]string, error) {
	out := make([]string, 0, len(c.pkgs[id]))
	for v := range c.pkgs[id] {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

// Load implements Catalog.
func (c *MemCatalog) Load(_ context.Context, id, version string) (*Package, error) {
	p, ok := c.pkgs[id][version]
	if !ok {
		return nil, fmt.Errorf("%s@%s is not in the catalog", id, version)
	}
	return p, nil
}

// Resolution is the dependency closure of a root package.
type Resolution struct {
	Root     *Package
	Packages map[string]*Package // every resolved dependency by identity (the root excluded)
	Edges    map[string][]string // identity → identities it depends on (sorted)
	// Cycles lists dependency cycles as paths [a, …, a]; bundles tolerate them (deduplicated by identity), so
	// they are warnings.
	Cycles [][]string
}

// Dependencies returns the resolved dependencies sorted by identity.
func (r *Resolution) Dependencies() []*Package {
	ids := make([]string, 0, len(r.Packages))
	for id := range r.Packages {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareUTF16)
	out := make([]*Package, len(ids))
	for i, id := range ids {
		out[i] = r.Packages[id]
	}
	return out
}

type constraint struct {
	rng  string
	from string // identity of the requiring package
}

// maxResolvePasses bounds re-resolution after a newly seen range invalidates an earlier pick.
const maxResolvePasses = 64

// Resolve computes the transitive dependencies of root against cat: each package id gets the highest version
// satisfying every range that requires it (node-semver maxSatisfying, prereleases excluded unless a range
// names them). A missing package or a range nothing satisfies is DEPENDENCY_UNRESOLVED; ranges that are each
// satisfiable but not together (two versions of one package required) are BUNDLE_CONFLICT; a dependency
// whose manifest type differs from the section declaring it is DEPENDENCY_UNRESOLVED. All problems are
// collected in one *ValidationError. Cycles are reported in Resolution.Cycles, not as errors.
func Resolve(ctx context.Context, root *Package, cat Catalog) (*Resolution, error) {
	rootID := root.Manifest.Name
	constraints := map[string][]constraint{}
	addConstraint := func(id string, c constraint) bool {
		if slices.Contains(constraints[id], c) {
			return false
		}
		constraints[id] = append(constraints[id], c)
		return true
	}

	for pass := 0; ; pass++ {
		if pass == maxResolvePasses {
			return nil, newError(CodeDependencyUnresolved, "dependency resolution did not settle")
		}
		res := &Resolution{Root: root, Packages: map[string]*Package{}, Edges: map[string][]string{}}
		chosen := map[string]*Package{rootID: root}
		var is issues
		restart := false
		queue := []*Package{root}
		for len(queue) > 0 && !restart {
			p := queue[0]
			queue = queue[1:]
			from := p.Manifest.Identity()
			for _, dep := range p.Manifest.Dependencies.All() {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				path := "dependencies." + string(dep.Type) + "s." + dep.Name
				rng := dep.Range
				if strings.TrimSpace(rng) == "" {
					rng = "*"
				}
				isNew := addConstraint(dep.Name, constraint{rng: rng, from: from})
				if cur, ok := chosen[dep.Name]; ok {
					if semver.Satisfies(cur.Manifest.Version, rng) {
						res.Edges[from] = appendUnique(res.Edges[from], cur.Manifest.Identity())
						continue
					}
					if dep.Name == rootID || !isNew {
						is.add(path, CodeBundleConflict, conflictMessage(dep.Name, constraints[dep.Name]))
						continue
					}
					restart = true // a pick made before this range was known: resolve again with it
					break
				}
				pick, err := pickVersion(ctx, cat, dep.Name, constraints[dep.Name])
				if err != nil {
					return nil, err
				}
				if pick.problem != "" {
					is.add(path, pick.code, "required by "+from+": "+pick.problem)
					continue
				}
				loaded, err := cat.Load(ctx, dep.Name, pick.version)
				if err != nil {
					is.add(path, CodeDependencyUnresolved, "required by "+from+": "+err.Error())
					continue
				}
				if loaded.Manifest.Type != dep.Type {
					is.add(path, CodeDependencyUnresolved, fmt.Sprintf("required by %s: %s is a %s, not a %s", from, dep.Name, loaded.Manifest.Type, dep.Type))
					continue
				}
				chosen[dep.Name] = loaded
				id := loaded.Manifest.Identity()
				res.Packages[id] = loaded
				res.Edges[from] = appendUnique(res.Edges[from], id)
				queue = append(queue, loaded)
			}
		}
		if restart {
			continue
		}
		if err := is.err(); err != nil {
			return nil, err
		}
		for id := range res.Edges {
			slices.SortFunc(res.Edges[id], compareUTF16)
		}
		res.Cycles = DetectCycles(res.Edges, root.Manifest.Identity())
		return res, nil
	}
}

type versionPick struct {
	version string
	code    Code
	problem string
}

func pickVersion(ctx context.Context, cat Catalog, id string, cs []constraint) (versionPick, error) {
	versions, err := cat.Versions(ctx, id)
	if err != nil {
		return versionPick{}, fmt.Errorf("afps: list versions of %s: %w", id, err)
	}
	if len(versions) == 0 {
		return versionPick{code: CodeDependencyUnresolved, problem: id + " is not available"}, nil
	}
	candidates := versions
	for _, c := range cs {
		var kept []string
		for _, v := range candidates {
			if semver.Satisfies(v, c.rng) {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			if len(cs) == 1 || !anySatisfies(versions, c.rng) {
				return versionPick{code: CodeDependencyUnresolved, problem: fmt.Sprintf("no version of %s satisfies %q (available: %s)", id, c.rng, strings.Join(versions, ", "))}, nil
			}
			return versionPick{code: CodeBundleConflict, problem: conflictMessage(id, cs)}, nil
		}
		candidates = kept
	}
	best, _ := semver.Highest(candidates)
	return versionPick{version: best}, nil
}

func anySatisfies(versions []string, rng string) bool {
	_, ok := semver.MaxSatisfying(versions, rng)
	return ok
}

func conflictMessage(id string, cs []constraint) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%q by %s", c.rng, c.from)
	}
	return "no single version of " + id + " satisfies every requirement: " + strings.Join(parts, ", ")
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// DetectCycles returns the dependency cycles reachable from root, each as a path [a, …, a], in a
// deterministic order (depth-first over sorted edges).
func DetectCycles(edges map[string][]string, root string) [][]string {
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var cycles [][]string
	var visit func(n string)
	visit = func(n string) {
		state[n] = onStack
		stack = append(stack, n)
		next := slices.Clone(edges[n])
		slices.SortFunc(next, compareUTF16)
		for _, m := range next {
			switch state[m] {
			case onStack:
				i := slices.Index(stack, m)
				cycle := append(slices.Clone(stack[i:]), m)
				cycles = append(cycles, cycle)
			case unvisited:
				visit(m)
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	visit(root)
	return cycles
}

// BuildBundle resolves root's dependencies against cat and assembles the bundle.
func BuildBundle(ctx context.Context, root *Package, cat Catalog, metadata json.RawMessage) (*Bundle, *Resolution, error) {
	res, err := Resolve(ctx, root, cat)
	if err != nil {
		return nil, nil, err
	}
	b, err := NewBundle(root, res.Dependencies(), metadata)
	if err != nil {
		return nil, nil, err
	}
	return b, res, nil
}

// CatalogFromBundle exposes a bundle's packages as a Catalog (e.g. to re-resolve or to run).
func CatalogFromBundle(b *Bundle) (*MemCatalog, error) {
	c := NewMemCatalog()
	for _, id := range b.Identities() {
		bp := b.Packages[id]
		c.Add(&Package{Manifest: bp.Manifest, Files: bp.Files})
	}
	return c, nil
}
