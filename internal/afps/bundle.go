package afps

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
)

// Bundle constants (PACKAGES.md §1.11).
const (
	BundleFile           = "bundle.json"
	BundleFormatVersion  = "1.0"
	MaxBundlePackages    = 512
	MaxIdentityBytes     = 4096
	bundlePackagesPrefix = "packages/"
)

// Bundle is a multi-package executable artifact: a root package and its transitive dependencies.
type Bundle struct {
	FormatVersion string
	Root          string                    // identity of the root package
	Packages      map[string]*BundlePackage // by identity "@scope/name@version"
	Integrity     string                    // SRI over {identity: {integrity, path}}
	Metadata      json.RawMessage           // optional, informational, excluded from integrity
}

// BundlePackage is one package of a bundle.
type BundlePackage struct {
	Identity  string
	Name      string
	Version   string
	Path      string // "packages/@scope/name/version/"
	Manifest  *Manifest
	Files     map[string][]byte // package-relative, RECORD excluded
	Record    []byte
	Integrity string // SRI of Record
}

// Identity formats "@scope/name@version".
func Identity(name, version string) string { return name + "@" + version }

// ParseIdentity splits an identity on its last "@" and checks both halves.
func ParseIdentity(id string) (name, version string, err error) {
	if len(id) > MaxIdentityBytes {
		return "", "", fmt.Errorf("identity longer than %d bytes", MaxIdentityBytes)
	}
	at := strings.LastIndexByte(id, '@')
	if at <= 0 {
		return "", "", fmt.Errorf("identity %q is not @scope/name@version", id)
	}
	name, version = id[:at], id[at+1:]
	if !ValidName(name) || !semver.Valid(version) {
		return "", "", fmt.Errorf("identity %q is not @scope/name@version", id)
	}
	return name, version, nil
}

// bundlePath is the folder of a package inside a bundle.
func bundlePath(name, version string) string {
	return bundlePackagesPrefix + name + "/" + version + "/"
}

// NewBundle assembles a bundle from a root package and its dependencies (deduplicated by identity; a
// dependency with the root's identity is ignored). RECORDs and integrities are computed here.
func NewBundle(root *Package, deps []*Package, metadata json.RawMessage) (*Bundle, error) {
	b := &Bundle{FormatVersion: BundleFormatVersion, Packages: map[string]*BundlePackage{}, Metadata: metadata}
	add := func(p *Package) error {
		name, version := p.Manifest.Name, p.Manifest.Version
		id := Identity(name, version)
		if _, _, err := ParseIdentity(id); err != nil {
			return newError(CodeManifestSchema, err.Error())
		}
		if _, dup := b.Packages[id]; dup {
			return nil
		}
		files := make(map[string][]byte, len(p.Files))
		for path, content := range p.Files {
			if path == RecordFile {
				continue
			}
			files[path] = content
		}
		record := BuildRecord(files)
		b.Packages[id] = &BundlePackage{
			Identity: id, Name: name, Version: version, Path: bundlePath(name, version),
			Manifest: p.Manifest, Files: files, Record: record, Integrity: SRI(record),
		}
		return nil
	}
	if err := add(root); err != nil {
		return nil, err
	}
	b.Root = root.Manifest.Identity()
	for _, d := range deps {
		if err := add(d); err != nil {
			return nil, err
		}
	}
	if len(b.Packages) > MaxBundlePackages {
		return nil, newError(CodeLimitsExceeded, fmt.Sprintf("bundle has %d packages, the limit is %d", len(b.Packages), MaxBundlePackages))
	}
	integrity, err := b.computeIntegrity()
	if err != nil {
		return nil, err
	}
	b.Integrity = integrity
	return b, nil
}

func (b *Bundle) computeIntegrity() (string, error) {
	m := map[string]any{}
	for id, p := range b.Packages {
		m[id] = map[string]any{"integrity": p.Integrity, "path": p.Path}
	}
	canon, err := CanonicalJSON(m)
	if err != nil {
		return "", err
	}
	return SRI(canon), nil
}

// RootPackage returns the root package.
func (b *Bundle) RootPackage() *BundlePackage { return b.Packages[b.Root] }

// Identities returns the package identities sorted (UTF-16 order).
func (b *Bundle) Identities() []string {
	ids := make([]string, 0, len(b.Packages))
	for id := range b.Packages {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareUTF16)
	return ids
}

// Package validates the bundle package's files as an AFPS package.
func (p *BundlePackage) Package(opts ValidateOptions) (*Package, error) {
	return LoadPackage(p.Files, opts)
}

// bundleJSON returns the canonical bundle.json.
func (b *Bundle) bundleJSON() ([]byte, error) {
	pkgs := map[string]any{}
	for id, p := range b.Packages {
		pkgs[id] = map[string]any{"path": p.Path, "integrity": p.Integrity}
	}
	doc := map[string]any{
		"bundleFormatVersion": b.FormatVersion,
		"root":                b.Root,
		"packages":            pkgs,
		"integrity":           b.Integrity,
	}
	if len(b.Metadata) > 0 {
		doc["metadata"] = b.Metadata
	}
	return CanonicalJSON(doc)
}

// Write serialises the bundle deterministically: bundle.json then every package's files and RECORD, entries
// sorted by path, STORE, mtime pinned to PinnedModTime.
func (b *Bundle) Write() ([]byte, error) {
	doc, err := b.bundleJSON()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{BundleFile: doc}
	for _, p := range b.Packages {
		files[p.Path+RecordFile] = p.Record
		for path, content := range p.Files {
			files[p.Path+path] = content
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range sortedPaths(files) {
		if clean, reason := sanitizePath(p, true); reason != "" || clean != p {
			return nil, fmt.Errorf("afps: cannot write bundle entry %q: %s", p, firstNonEmpty(reason, "not a clean path"))
		}
		h := &zip.FileHeader{Name: p, Method: zip.Store, Modified: PinnedModTime}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(files[p])); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// LooksLikeBundle is upstream's import sniffing: the first 64 KiB contain the bytes "bundle.json".
func LooksLikeBundle(data []byte) bool {
	return bytes.Contains(data[:min(len(data), 64<<10)], []byte(BundleFile))
}

type bundleDoc struct {
	BundleFormatVersion *string `json:"bundleFormatVersion"`
	Root                *string `json:"root"`
	Packages            map[string]struct {
		Path      *string `json:"path"`
		Integrity *string `json:"integrity"`
	} `json:"packages"`
	Integrity *string         `json:"integrity"`
	Metadata  json.RawMessage `json:"metadata"`
}

// ReadBundle reads and verifies an untrusted `.afps-bundle` (PACKAGES.md §1.11), in upstream's order:
// compressed size, unzip, file count, strict sanitiser (ARCHIVE_INVALID), decompressed total (LIMITS_EXCEEDED);
// bundle.json present and well-formed; major version 1; package count; per package: identity, path, RECORD
// present and parsable, every file listed with matching size and hash and nothing extra, RECORD canonical,
// per-package integrity, manifest.json present, a JSON object whose name and version match the identity; then
// the bundle integrity; the root must be one of the packages. Manifests are parsed but not validated: use
// BundlePackage.Package for that.
func ReadBundle(data []byte, lim Limits) (*Bundle, error) {
	ar, err := readZip(data, lim, bundleMode)
	if err != nil {
		return nil, err
	}
	raw, ok := ar.Files[BundleFile]
	if !ok {
		return nil, newError(CodeBundleJSONMissing, "bundle.json is missing at the archive root")
	}
	var doc bundleDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, &Error{Code: CodeBundleJSONInvalid, Message: "bundle.json is not a valid bundle document", Err: err}
	}
	if doc.BundleFormatVersion == nil || doc.Root == nil || doc.Packages == nil || doc.Integrity == nil {
		return nil, newError(CodeBundleJSONInvalid, "bundle.json needs bundleFormatVersion, root, packages and integrity")
	}
	major, _, _ := strings.Cut(*doc.BundleFormatVersion, ".")
	if major != "1" {
		return nil, newError(CodeVersionUnsupported, fmt.Sprintf("bundle format %q is not supported (want 1.x)", *doc.BundleFormatVersion))
	}
	if len(doc.Packages) > MaxBundlePackages {
		return nil, newError(CodeLimitsExceeded, fmt.Sprintf("bundle has %d packages, the limit is %d", len(doc.Packages), MaxBundlePackages))
	}
	b := &Bundle{FormatVersion: *doc.BundleFormatVersion, Root: *doc.Root, Packages: map[string]*BundlePackage{}, Integrity: *doc.Integrity}
	if len(doc.Metadata) > 0 && string(doc.Metadata) != "null" {
		b.Metadata = doc.Metadata
	}

	ids := make([]string, 0, len(doc.Packages))
	for id := range doc.Packages {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareUTF16)
	paths := map[string]string{}
	for _, id := range ids {
		entry := doc.Packages[id]
		if len(id) > MaxIdentityBytes {
			return nil, newError(CodeLimitsExceeded, fmt.Sprintf("identity longer than %d bytes", MaxIdentityBytes))
		}
		name, version, err := ParseIdentity(id)
		if err != nil {
			return nil, newError(CodeBundleJSONInvalid, err.Error())
		}
		if entry.Path == nil || entry.Integrity == nil || !strings.HasSuffix(*entry.Path, "/") {
			return nil, newError(CodeBundleJSONInvalid, fmt.Sprintf("package %s needs a path ending with / and an integrity", id))
		}
		path := *entry.Path
		if clean, reason := sanitizePath(strings.TrimSuffix(path, "/"), true); reason != "" || clean+"/" != path {
			return nil, newError(CodeBundleJSONInvalid, fmt.Sprintf("package %s has an invalid path %q", id, path))
		}
		for other, otherID := range paths {
			if strings.HasPrefix(path, other) || strings.HasPrefix(other, path) {
				return nil, newError(CodeBundleJSONInvalid, fmt.Sprintf("packages %s and %s have overlapping paths", otherID, id))
			}
		}
		paths[path] = id
		p, err := readBundlePackage(ar.Files, id, name, version, path, *entry.Integrity)
		if err != nil {
			return nil, err
		}
		b.Packages[id] = p
	}
	want, err := b.computeIntegrity()
	if err != nil {
		return nil, err
	}
	if !EqualSRI(want, b.Integrity) {
		return nil, newError(CodeIntegrityMismatch, "bundle integrity does not match its packages")
	}
	if _, ok := b.Packages[b.Root]; !ok {
		return nil, newError(CodeBundleJSONInvalid, fmt.Sprintf("root %q is not one of the packages", b.Root))
	}
	return b, nil
}

func readBundlePackage(all map[string][]byte, id, name, version, path, integrity string) (*BundlePackage, error) {
	record, ok := all[path+RecordFile]
	if !ok {
		return nil, newError(CodeRecordMissing, fmt.Sprintf("package %s has no RECORD", id))
	}
	entries, err := ParseRecord(record)
	if err != nil {
		return nil, &Error{Code: CodeRecordMalformed, Message: "package " + id, Err: err}
	}
	files := map[string][]byte{}
	for p, content := range all {
		if rel, ok := strings.CutPrefix(p, path); ok && rel != RecordFile {
			files[rel] = content
		}
	}
	for _, e := range entries {
		content, ok := files[e.Path]
		if !ok {
			return nil, newError(CodeRecordMismatch, fmt.Sprintf("package %s: RECORD lists %q which is not in the archive", id, e.Path))
		}
		if int64(len(content)) != e.Size || !EqualSRI(recordHash(content), e.Hash) {
			return nil, newError(CodeRecordMismatch, fmt.Sprintf("package %s: %q does not match its RECORD size and hash", id, e.Path))
		}
	}
	if len(entries) != len(files) {
		for rel := range files {
			if !slices.ContainsFunc(entries, func(e RecordEntry) bool { return e.Path == rel }) {
				return nil, newError(CodeRecordMismatch, fmt.Sprintf("package %s: %q is not listed in RECORD", id, rel))
			}
		}
	}
	if !bytes.Equal(record, BuildRecord(files)) {
		return nil, newError(CodeRecordMismatch, fmt.Sprintf("package %s: RECORD is not in canonical form", id))
	}
	if !EqualSRI(SRI(record), integrity) {
		return nil, newError(CodeIntegrityMismatch, fmt.Sprintf("package %s: RECORD integrity mismatch", id))
	}
	raw, ok := files[ManifestFile]
	if !ok {
		return nil, newError(CodeManifestSchema, fmt.Sprintf("package %s has no manifest.json", id))
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, &Error{Code: CodeManifestSchema, Message: "package " + id, Err: err}
	}
	if m.Name != name || m.Version != version {
		return nil, newError(CodeManifestSchema, fmt.Sprintf("package %s: manifest declares %s", id, Identity(m.Name, m.Version)))
	}
	return &BundlePackage{
		Identity: id, Name: name, Version: version, Path: path, Manifest: m,
		Files: files, Record: record, Integrity: integrity,
	}, nil
}
