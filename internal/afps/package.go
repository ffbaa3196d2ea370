package afps

import (
	"bytes"
	"strings"
)

// Companion files of the package types.
const (
	PromptFile   = "prompt.md"
	ToolDocFile  = "TOOL.md"
	ProviderFile = "PROVIDER.md"
)

// Package is a validated AFPS package: its manifest and every file (manifest.json included), keyed by clean
// archive-relative path.
type Package struct {
	Manifest *Manifest
	Files    map[string][]byte
	// Dropped and Stripped report what the ZIP sanitiser did (see Archive); empty for packages built in memory.
	Dropped  []string
	Stripped string
}

// ReadPackage reads and validates an untrusted `.afps` archive: ReadArchive with PackageLimits, then
// LoadPackage. Archive problems are an *Error; manifest and content problems one *ValidationError with every
// issue.
func ReadPackage(data []byte, opts ValidateOptions) (*Package, error) {
	ar, err := ReadArchive(data, PackageLimits)
	if err != nil {
		return nil, err
	}
	p, err := LoadPackage(ar.Files, opts)
	if err != nil {
		return nil, err
	}
	p.Dropped, p.Stripped = ar.Dropped, ar.Stripped
	return p, nil
}

// LoadPackage validates a set of files as a package (PACKAGES.md §1.4 steps 5–6): manifest.json present
// (MISSING_MANIFEST), JSON (INVALID_MANIFEST), valid for its type (INVALID_MANIFEST issues), then the companion
// content: agent prompt.md non-blank, skill SKILL.md present (MISSING_CONTENT) with a frontmatter name
// (INVALID_CONTENT), tool entrypoint present (MISSING_CONTENT). All issues are returned together, manifest
// issues first.
func LoadPackage(files map[string][]byte, opts ValidateOptions) (*Package, error) {
	raw, ok := files[ManifestFile]
	if !ok || len(bytes.TrimSpace(raw)) == 0 {
		return nil, &ValidationError{Issues: []Issue{{Code: CodeMissingManifest, Message: "manifest.json is missing at the package root"}}}
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	var is issues
	if err := Validate(m, opts); err != nil {
		is = append(is, err.(*ValidationError).Issues...)
	}
	is = append(is, contentIssues(m, files)...)
	if err := is.err(); err != nil {
		return nil, err
	}
	return &Package{Manifest: m, Files: files}, nil
}

func contentIssues(m *Manifest, files map[string][]byte) issues {
	var is issues
	switch m.Type {
	case TypeAgent:
		if len(bytes.TrimSpace(files[PromptFile])) == 0 {
			is.add(PromptFile, CodeMissingContent, "Agent packages need a non-empty prompt.md")
		}
	case TypeSkill:
		content, ok := files[SkillFile]
		if !ok {
			is.add(SkillFile, CodeMissingContent, "Skill packages need a SKILL.md")
		} else if ParseSkillMD(content).Name == "" {
			is.add(SkillFile, CodeInvalidContent, "SKILL.md frontmatter has no name")
		}
	case TypeTool:
		if m.Entrypoint != "" && safeRelativePath(m.Entrypoint) {
			if _, ok := files[cleanPath(m.Entrypoint)]; !ok {
				is.add("entrypoint", CodeMissingContent, "Entrypoint file "+m.Entrypoint+" is not in the package")
			}
		}
	}
	return is
}

// cleanPath removes "." and empty segments ("./tool.ts" → "tool.ts").
func cleanPath(p string) string {
	var kept []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, "/")
}

// Content is the package's primary content, what the platform keeps as draft_content (PACKAGES.md §1.1):
// prompt.md for agents, SKILL.md for skills, the entrypoint source for tools, PROVIDER.md or else the manifest
// JSON for providers.
func (p *Package) Content() string {
	switch p.Manifest.Type {
	case TypeAgent:
		return string(p.Files[PromptFile])
	case TypeSkill:
		return string(p.Files[SkillFile])
	case TypeTool:
		return string(p.Files[cleanPath(p.Manifest.Entrypoint)])
	case TypeProvider:
		if doc, ok := p.Files[ProviderFile]; ok {
			return string(doc)
		}
		return string(p.Manifest.Raw)
	}
	return ""
}

// Paths returns the file paths sorted in byte order.
func (p *Package) Paths() []string { return sortedPaths(p.Files) }
