package afps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// SkillFile is the skill package's required document.
const SkillFile = "SKILL.md"

// maxFrontmatterYAML bounds what is handed to the YAML parser; longer frontmatter falls back to line scanning.
const maxFrontmatterYAML = 64 << 10

// SkillDoc is a parsed SKILL.md: optional YAML frontmatter between "---" lines, then Markdown.
type SkillDoc struct {
	HasFrontmatter bool
	// Frontmatter is the decoded YAML mapping (nil when absent or not a valid YAML mapping).
	Frontmatter map[string]any
	// Name and Description are the frontmatter's `name` and `description` ("" when absent).
	Name        string
	Description string
	// Body is the Markdown after the frontmatter (the whole text when there is none).
	Body string
}

var (
	reFrontmatterName = regexp.MustCompile(`(?m)^name:[ \t]*(.+?)[ \t]*\r?$`)
	reFrontmatterDesc = regexp.MustCompile(`(?m)^description:[ \t]*(.+?)[ \t]*\r?$`)
)

// ParseSkillMD parses SKILL.md. Frontmatter is parsed as YAML; when it is not a valid YAML mapping, `name` and
// `description` are taken from the first "name:" / "description:" lines with surrounding quotes stripped,
// which is what upstream does for every document.
func ParseSkillMD(content []byte) SkillDoc {
	text := strings.TrimPrefix(string(content), "\ufeff")
	fm, body, ok := splitFrontmatter(text)
	if !ok {
		return SkillDoc{Body: text}
	}
	doc := SkillDoc{HasFrontmatter: true, Body: body}
	if len(fm) <= maxFrontmatterYAML {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(fm), &m); err == nil && m != nil {
			doc.Frontmatter = m
			doc.Name = scalarString(m["name"])
			doc.Description = scalarString(m["description"])
			return doc
		}
	}
	doc.Name = lineValue(reFrontmatterName, fm)
	doc.Description = lineValue(reFrontmatterDesc, fm)
	return doc
}

// splitFrontmatter finds a leading "---" line and the next "---" line.
func splitFrontmatter(text string) (fm, body string, ok bool) {
	first, rest, found := strings.Cut(text, "\n")
	if !found || strings.TrimRight(first, " \t\r") != "---" {
		return "", "", false
	}
	offset := 0
	for offset <= len(rest) {
		line, after, more := strings.Cut(rest[offset:], "\n")
		if strings.TrimRight(line, " \t\r") == "---" {
			return strings.TrimSuffix(rest[:offset], "\n"), after, true
		}
		if !more {
			break
		}
		offset += len(line) + 1
	}
	return "", "", false
}

func lineValue(re *regexp.Regexp, fm string) string {
	m := re.FindStringSubmatch(fm)
	if m == nil {
		return ""
	}
	v := strings.TrimSpace(m[1])
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = v[1 : len(v)-1]
	}
	return v
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case bool, int, int64, uint64, float64:
		return fmt.Sprint(x)
	}
	return ""
}

// SynthesizeSkillManifest builds the manifest of a skill-only ZIP (PACKAGES.md §1.7): name
// "@<orgSlug>/<frontmatter name>", schemaVersion 1.1, displayName = frontmatter name. It fails when SKILL.md
// has no frontmatter name or the result does not validate (callers then report the original
// MISSING_MANIFEST).
func SynthesizeSkillManifest(orgSlug string, skillMD []byte, version string) ([]byte, error) {
	doc := ParseSkillMD(skillMD)
	if doc.Name == "" {
		return nil, fmt.Errorf("%s has no frontmatter name", SkillFile)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"name":`)
	writeJSString(&buf, "@"+orgSlug+"/"+doc.Name)
	buf.WriteString(`,"version":`)
	writeJSString(&buf, version)
	buf.WriteString(`,"type":"skill","schemaVersion":"1.1","displayName":`)
	writeJSString(&buf, doc.Name)
	if doc.Description != "" {
		buf.WriteString(`,"description":`)
		writeJSString(&buf, doc.Description)
	}
	buf.WriteString("}")
	raw := buf.Bytes()
	m, err := ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	if err := Validate(m, ValidateOptions{}); err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("synthesised manifest is not JSON")
	}
	return raw, nil
}
