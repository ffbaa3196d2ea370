package runplan

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/afps"
)

// PromptFile is where the prompt is written in the work directory (AGENT_PROMPT_FILE): environment
// strings are limited to 128 KiB, prompts are not.
const PromptFile = ".appstrate/prompt.md"

// Limits of synthesised provider skills (Agent Skills frontmatter).
const (
	maxSkillName        = 64
	maxSkillDescription = 1024
)

// PackageFiles is a package with its files (manifest.json included).
type PackageFiles struct {
	ID    string
	Files map[string][]byte
}

// WorkspaceInput is what the work directory holds.
type WorkspaceInput struct {
	Prompt    string
	Documents []Document     // names already sanitised and distinct
	Skills    []PackageFiles // skill packages: every file but RECORD goes to .pi/skills/<id>/
	Tools     []PackageFiles // tool packages: their TOOL.md goes to .pi/tools/<id>/
	// ToolPackages are the tool packages the runner hosts (not the system ones): every file but RECORD goes
	// to ToolPackageDir(id).
	ToolPackages []PackageFiles
	Providers    []Provider // every provider dependency gets a synthesised skill
}

// gitFiles are a minimal repository (no commit yet, branch main) written as files, without running git:
// git needs HEAD, an objects and a refs directory; the two empty files only make those directories exist
// (git ignores both).
var gitFiles = map[string]string{
	".git/HEAD":               "ref: refs/heads/main\n",
	".git/config":             "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n[user]\n\tname = Appstrate Agent\n\temail = agent@appstrate.invalid\n",
	".git/objects/info/packs": "",
	".git/refs/heads/.keep":   "",
}

// BuildWorkspace returns the files of the work directory by slash-separated relative path (RUNTIME.md
// §2.7): the minimal .git, the prompt, documents/<name>, the skill packages, one synthesised skill per
// provider, the tools' TOOL.md and the files of the tool packages the runner hosts. A path that would leave
// its folder is an error.
func BuildWorkspace(in WorkspaceInput) (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, content := range gitFiles {
		files[name] = []byte(content)
	}
	files[PromptFile] = []byte(in.Prompt)
	put := func(dir, rel string, data []byte) error {
		if !safeRelPath(rel) {
			return fmt.Errorf("workspace: unsafe file name %q under %s", rel, dir)
		}
		files[dir+"/"+rel] = data
		return nil
	}
	for _, d := range in.Documents {
		if err := put("documents", d.Name, d.Data); err != nil {
			return nil, err
		}
	}
	for _, s := range in.Skills {
		if !afps.ValidName(s.ID) {
			return nil, fmt.Errorf("workspace: invalid skill id %q", s.ID)
		}
		for rel, data := range s.Files {
			if rel == "RECORD" {
				continue
			}
			if err := put(SkillDir(s.ID), rel, data); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range in.Tools {
		doc, ok := t.Files[afps.ToolDocFile]
		if !ok {
			continue
		}
		if !afps.ValidName(t.ID) {
			return nil, fmt.Errorf("workspace: invalid tool id %q", t.ID)
		}
		files[".pi/tools/"+t.ID+"/"+afps.ToolDocFile] = doc
	}
	for _, t := range in.ToolPackages {
		if !afps.ValidName(t.ID) {
			return nil, fmt.Errorf("workspace: invalid tool id %q", t.ID)
		}
		for rel, data := range t.Files {
			if rel == "RECORD" {
				continue
			}
			if err := put(ToolPackageDir(t.ID), rel, data); err != nil {
				return nil, err
			}
		}
	}
	names := providerSkillNames(in.Providers)
	for i, p := range in.Providers {
		files[".pi/skills/"+names[i]+"/SKILL.md"] = ProviderSkill(p, names[i])
	}
	return files, nil
}

// safeRelPath accepts a clean, relative, slash-separated path that stays where it is put.
func safeRelPath(p string) bool {
	return p != "" && utf8.ValidString(p) && !strings.ContainsAny(p, "\\\x00") && !strings.HasPrefix(p, "/") &&
		path.Clean(p) == p && p != "." && p != ".." && !strings.HasPrefix(p, "../")
}

// SkillDir is the folder of a skill package in the work directory.
func SkillDir(id string) string { return ".pi/skills/" + id }

// ToolPackageDir is the folder of a hosted tool package in the work directory (AGENT_TOOL_PACKAGES dir).
func ToolPackageDir(id string) string { return ".appstrate/tools/" + id }

// ProviderSkillName is the name of the skill synthesised for a provider: "provider-" and the id in lower
// case with every run of other characters than letters and digits turned into one "-", at most 64
// characters ("@appstrate/google-drive" → "provider-appstrate-google-drive").
func ProviderSkillName(id string) string {
	var b strings.Builder
	b.WriteString("provider-")
	dash := true
	for _, r := range strings.ToLower(id) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := b.String()
	if len(name) > maxSkillName {
		name = name[:maxSkillName]
	}
	return strings.TrimRight(name, "-")
}

// providerSkillNames names the skill of each provider, in order; a name already taken gets "-2", "-3"…
func providerSkillNames(providers []Provider) []string {
	out := make([]string, len(providers))
	taken := map[string]bool{}
	for i, p := range providers {
		base := ProviderSkillName(p.ID)
		name := base
		for n := 2; taken[name]; n++ {
			suffix := "-" + strconv.Itoa(n)
			name = strings.TrimRight(base[:min(len(base), maxSkillName-len(suffix))], "-") + suffix
		}
		taken[name] = true
		out[i] = name
	}
	return out
}

// ProviderSkill is the SKILL.md synthesised for a provider (RUNTIME.md §4.5): frontmatter name and
// description, then its metadata and its API documentation (PROVIDER.md, else a pointer to docsUrl).
func ProviderSkill(p Provider, name string) []byte {
	display := p.DisplayName
	if display == "" {
		display = p.ID
	}
	lines := []string{
		"---",
		"name: " + name,
		"description: " + compactJSON(providerSkillDescription(p, display)),
		"---",
		"",
		"# " + display,
		"",
		"## Provider metadata",
		"",
		"- providerId: `" + p.ID + "`",
		"- displayName: " + display,
		"- authMode: " + p.AuthMode,
		"- authorizedUris: " + authorizedURLs(p),
	}
	if p.DocsURL != "" {
		lines = append(lines, "- docsUrl: "+p.DocsURL)
	}
	lines = append(lines, "", "## API documentation", "")
	switch doc := strings.TrimSpace(p.Doc); {
	case doc != "":
		lines = append(lines, doc)
	case p.DocsURL != "":
		lines = append(lines, "No API documentation is bundled with this provider: see "+p.DocsURL+".")
	default:
		lines = append(lines, "No API documentation is bundled with this provider.")
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// providerSkillDescription is "<displayName> API. <description>. READ this skill before any
// provider_call(providerId="<id>")." within 1024 characters: the middle clause goes first, then the display
// name is cut.
func providerSkillDescription(p Provider, display string) string {
	tail := `READ this skill before any provider_call(providerId="` + p.ID + `").`
	head := display + " API."
	if d := oneLine(strings.TrimRight(strings.TrimSpace(p.Description), ".")); d != "" {
		if full := head + " " + d + ". " + tail; utf8.RuneCountInString(full) <= maxSkillDescription {
			return full
		}
	}
	full := head + " " + tail
	if over := utf8.RuneCountInString(full) - maxSkillDescription; over > 0 {
		r := []rune(display)
		keep := max(len(r)-over, 0)
		full = string(r[:keep]) + " API. " + tail
		if utf8.RuneCountInString(full) > maxSkillDescription {
			full = string([]rune(full)[:maxSkillDescription])
		}
	}
	return full
}
