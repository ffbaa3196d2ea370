package packages

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/afps/semver"
	"github.com/appstrate/appstrate-go/internal/packages/system"
)

// SystemScope is the scope of every system package id ("@appstrate/…").
const SystemScope = "@appstrate"

// SystemPackage is one version of a package shipped with the platform, validated and packed in memory.
type SystemPackage struct {
	ID      string // "@appstrate/gmail"
	Type    string // agent, skill, tool or provider
	Version string
	Dir     string // source folder in the embedded tree, e.g. "providers/gmail"

	Package       *afps.Package   // manifest and files
	Manifest      *afps.Manifest  // = Package.Manifest
	DraftManifest json.RawMessage // the validated copy of the manifest, what packages.draft_manifest holds
	Content       string          // the primary content (packages.draft_content)

	packOnce  sync.Once
	archive   []byte
	integrity string
	packErr   error
}

// Archive returns the package's deterministic `.afps` (afps.WritePackage of its files: the bytes `appstrate
// package pack` writes for the same folder), packed on first use: a boot with nothing to sync never packs.
func (p *SystemPackage) Archive() ([]byte, error) {
	p.pack()
	return p.archive, p.packErr
}

// Integrity returns the SRI of Archive ("" if it could not be packed).
func (p *SystemPackage) Integrity() string {
	p.pack()
	return p.integrity
}

func (p *SystemPackage) pack() {
	p.packOnce.Do(func() {
		p.archive, p.packErr = afps.WritePackage(p.Package.Files)
		if p.packErr == nil {
			p.integrity = afps.SRI(p.archive)
		}
	})
}

// SystemCatalog is the in-memory index of the system packages: every version of every id, with the canonical
// (highest) version of each id driving the type lists. It is immutable once built and safe for concurrent use.
type SystemCatalog struct {
	byID     map[string][]*SystemPackage // ascending semver
	ids      []string                    // sorted
	digest   string
	problems []error
}

var (
	systemOnce    sync.Once
	systemCatalog *SystemCatalog
)

// System returns the catalog of the packages embedded in this binary, built on first use and kept for the life
// of the process (run planning reads it). Folders that fail to load are left out and reported by Problems (the
// embedded tree is checked by tests, so this is never expected).
func System() *SystemCatalog {
	systemOnce.Do(func() { systemCatalog = LoadSystem() })
	return systemCatalog
}

// LoadSystem builds a catalog of the packages embedded in this binary that nothing else holds: the boot sync
// uses it so that its parsed files and packed archives (a few MB on a first boot) are garbage once the sync is
// done, instead of staying in an idle server until the first run needs System.
func LoadSystem() *SystemCatalog { return LoadSystemCatalog(system.FS()) }

// LoadSystemCatalog validates (strict AFPS) and packs every package folder of fsys (laid out as package system:
// providers/<name>/, tools/<name>-<version>/). Invalid folders, ids outside @appstrate and duplicate
// identities are skipped and listed in Problems, as upstream logs and skips unreadable archives.
func LoadSystemCatalog(fsys fs.FS) *SystemCatalog {
	c := &SystemCatalog{byID: map[string][]*SystemPackage{}}
	dirs, err := system.Dirs(fsys)
	if err != nil {
		c.problems = append(c.problems, fmt.Errorf("system packages: list folders: %w", err))
	}
	for _, dir := range dirs {
		p, err := loadSystemDir(fsys, dir)
		if err != nil {
			c.problems = append(c.problems, fmt.Errorf("system package %s: %w", dir, err))
			continue
		}
		if c.version(p.ID, p.Version) != nil {
			c.problems = append(c.problems, fmt.Errorf("system package %s: %s@%s is already defined", dir, p.ID, p.Version))
			continue
		}
		if prev := c.byID[p.ID]; len(prev) > 0 && prev[0].Type != p.Type {
			c.problems = append(c.problems, fmt.Errorf("system package %s: %s is a %s elsewhere", dir, p.ID, prev[0].Type))
			continue
		}
		c.byID[p.ID] = append(c.byID[p.ID], p)
	}
	for id, vs := range c.byID {
		sort.Slice(vs, func(i, j int) bool { n, _ := semver.Compare(vs[i].Version, vs[j].Version); return n < 0 })
		c.ids = append(c.ids, id)
	}
	sort.Strings(c.ids)
	c.digest = c.computeDigest()
	return c
}

func loadSystemDir(fsys fs.FS, dir string) (*SystemPackage, error) {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		return nil, err
	}
	files, err := afps.LoadDir(sub)
	if err != nil {
		return nil, err
	}
	pkg, err := afps.LoadPackage(files, afps.ValidateOptions{Strict: true})
	if err != nil {
		return nil, err
	}
	m := pkg.Manifest
	if scope, _, _ := strings.Cut(m.Name, "/"); scope != SystemScope {
		return nil, fmt.Errorf("name %q is not in the %s scope", m.Name, SystemScope)
	}
	if !semver.Valid(m.Version) {
		return nil, fmt.Errorf("version %q is not a valid semver version", m.Version)
	}
	draft, err := m.ValidatedJSON()
	if err != nil {
		return nil, err
	}
	return &SystemPackage{
		ID: m.Name, Type: string(m.Type), Version: m.Version, Dir: dir,
		Package: pkg, Manifest: m, DraftManifest: draft, Content: pkg.Content(),
	}, nil
}

// computeDigest summarises the catalog without packing it: the sync algorithm version, the Go toolchain (its
// compress/flate output defines the archive bytes), and every identity with the hash of each of its files.
// Any change makes the next boot sync again.
func (c *SystemCatalog) computeDigest() string {
	h := sha256.New()
	fmt.Fprintf(h, "appstrate system packages sync v%d %s\n", systemSyncVersion, runtime.Version())
	for _, p := range c.All() {
		fmt.Fprintf(h, "%s %s\n", p.Type, afps.Identity(p.ID, p.Version))
		for _, path := range p.Package.Paths() {
			fmt.Fprintf(h, "  %q %x\n", path, sha256.Sum256(p.Package.Files[path]))
		}
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// packAll packs every version concurrently (deflate dominates a first boot) and returns the first failure.
func (c *SystemCatalog) packAll() error {
	all := c.All()
	work := make(chan *SystemPackage)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(all)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				p.pack()
			}
		}()
	}
	for _, p := range all {
		work <- p
	}
	close(work)
	wg.Wait()
	for _, p := range all {
		if _, err := p.Archive(); err != nil {
			return fmt.Errorf("pack %s: %w", afps.Identity(p.ID, p.Version), err)
		}
	}
	return nil
}

func (c *SystemCatalog) version(id, version string) *SystemPackage {
	for _, p := range c.byID[id] {
		if p.Version == version {
			return p
		}
	}
	return nil
}

// IsSystem reports whether id is a system package of this binary. Rows with source='system' left by an older
// binary are not covered: the database is the authority for those.
func (c *SystemCatalog) IsSystem(id string) bool { return len(c.byID[id]) > 0 }

// Get returns the canonical (highest) version of a system package.
func (c *SystemCatalog) Get(id string) (*SystemPackage, bool) {
	vs := c.byID[id]
	if len(vs) == 0 {
		return nil, false
	}
	return vs[len(vs)-1], true
}

// Version returns one exact version of a system package.
func (c *SystemCatalog) Version(id, version string) (*SystemPackage, bool) {
	p := c.version(id, version)
	if p == nil {
		p = c.version(id, semver.Normalize(version))
	}
	return p, p != nil
}

// Versions returns every version of a system package, oldest first.
func (c *SystemCatalog) Versions(id string) []*SystemPackage {
	return append([]*SystemPackage(nil), c.byID[id]...)
}

// IDs returns the system package ids, sorted.
func (c *SystemCatalog) IDs() []string { return append([]string(nil), c.ids...) }

// List returns the canonical version of every system package of one type (all types when typ is ""), by id.
func (c *SystemCatalog) List(typ string) []*SystemPackage {
	var out []*SystemPackage
	for _, id := range c.ids {
		if p, _ := c.Get(id); typ == "" || p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

// All returns every version of every system package, by id then ascending version.
func (c *SystemCatalog) All() []*SystemPackage {
	var out []*SystemPackage
	for _, id := range c.ids {
		out = append(out, c.byID[id]...)
	}
	return out
}

// Digest identifies the catalog's content (identities and integrities); the boot sync stores it to skip work
// when nothing changed.
func (c *SystemCatalog) Digest() string { return c.digest }

// Problems lists the folders that could not be loaded.
func (c *SystemCatalog) Problems() []error { return append([]error(nil), c.problems...) }
