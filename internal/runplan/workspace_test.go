package runplan

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func TestBuildWorkspace(t *testing.T) {
	in := WorkspaceInput{
		Prompt:    "## System\n...",
		Documents: []Document{{Name: "report.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.7")}, {Name: "a b (2).txt", Data: []byte("x")}},
		Skills: []PackageFiles{{ID: "@acme/tone", Files: map[string][]byte{
			"manifest.json": []byte(`{"name":"@acme/tone"}`), "SKILL.md": []byte("---\nname: tone\n---\nBody"),
			"scripts/run.sh": []byte("echo hi"), "RECORD": []byte("manifest.json,sha256=x,1\n")}}},
		Tools: []PackageFiles{
			{ID: "@appstrate/output", Files: map[string][]byte{"TOOL.md": []byte("# output"), "tool.js": []byte("export default 1")}},
			{ID: "@acme/nodoc", Files: map[string][]byte{"tool.js": []byte("x")}},
		},
		ToolPackages: []PackageFiles{{ID: "@acme/nodoc", Files: map[string][]byte{"tool.js": []byte("x"), "lib/a.ts": []byte("y"),
			"RECORD": []byte("tool.js,sha256=x,1\n")}}},
		Providers: []Provider{{ID: "@appstrate/gmail", DisplayName: "Gmail", AuthMode: "oauth2"}, {ID: "@acme/crm"}},
	}
	files, err := BuildWorkspace(in)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{
		".appstrate/prompt.md", ".appstrate/tools/@acme/nodoc/lib/a.ts", ".appstrate/tools/@acme/nodoc/tool.js",
		".git/HEAD", ".git/config", ".git/objects/info/packs", ".git/refs/heads/.keep",
		".pi/skills/@acme/tone/SKILL.md", ".pi/skills/@acme/tone/manifest.json", ".pi/skills/@acme/tone/scripts/run.sh",
		".pi/skills/provider-acme-crm/SKILL.md", ".pi/skills/provider-appstrate-gmail/SKILL.md",
		".pi/tools/@appstrate/output/TOOL.md",
		"documents/a b (2).txt", "documents/report.pdf",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files\n got %q\nwant %q", names, want)
	}
	if string(files[PromptFile]) != in.Prompt || string(files["documents/report.pdf"]) != "%PDF-1.7" ||
		string(files[".git/HEAD"]) != "ref: refs/heads/main\n" || string(files[".pi/tools/@appstrate/output/TOOL.md"]) != "# output" {
		t.Fatal("contents")
	}

	// The files make a repository git accepts: the agent can commit in its workspace.
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "documents"}, {"commit", "-q", "-m", "first"}, {"log", "--format=%an <%ae> %s"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		if args[0] == "log" && strings.TrimSpace(string(out)) != "Appstrate Agent <agent@appstrate.invalid> first" {
			t.Fatalf("git log: %s", out)
		}
	}
}

func TestBuildWorkspaceRefusesEscapes(t *testing.T) {
	bad := []WorkspaceInput{
		{Documents: []Document{{Name: "../etc/passwd"}}},
		{Documents: []Document{{Name: "a/../../x"}}},
		{Documents: []Document{{Name: ""}}},
		{Skills: []PackageFiles{{ID: "@acme/s", Files: map[string][]byte{"/abs": nil}}}},
		{Skills: []PackageFiles{{ID: "@acme/s", Files: map[string][]byte{`a\b`: nil}}}},
		{Skills: []PackageFiles{{ID: "../../x", Files: map[string][]byte{"SKILL.md": nil}}}},
		{Tools: []PackageFiles{{ID: "@acme/../../t", Files: map[string][]byte{"TOOL.md": nil}}}},
		{ToolPackages: []PackageFiles{{ID: "@acme/../../t", Files: map[string][]byte{"tool.ts": nil}}}},
		{ToolPackages: []PackageFiles{{ID: "@acme/t", Files: map[string][]byte{"../../tool.ts": nil}}}},
	}
	for i, in := range bad {
		if _, err := BuildWorkspace(in); err == nil {
			t.Errorf("case %d: accepted", i)
		}
	}
}

func TestProviderSkillName(t *testing.T) {
	for id, want := range map[string]string{
		"@appstrate/gmail":                      "provider-appstrate-gmail",
		"@appstrate/google-drive":               "provider-appstrate-google-drive",
		"@Acme--Corp/CRM_v2":                    "provider-acme-corp-crm-v2",
		"@a/" + strings.Repeat("x", 80):         "provider-a-" + strings.Repeat("x", 53),
		"@a/" + strings.Repeat("x", 52) + "-yy": "provider-a-" + strings.Repeat("x", 52), // no trailing dash after the cut
	} {
		got := ProviderSkillName(id)
		if got != want || len(got) > 64 {
			t.Errorf("ProviderSkillName(%q) = %q, want %q", id, got, want)
		}
	}
	names := providerSkillNames([]Provider{{ID: "@acme/foo-bar"}, {ID: "@acme-foo/bar"}, {ID: "@acme/foo.bar"}})
	if !slices.Equal(names, []string{"provider-acme-foo-bar", "provider-acme-foo-bar-2", "provider-acme-foo-bar-3"}) {
		t.Fatalf("collisions: %v", names)
	}
}

func TestProviderSkill(t *testing.T) {
	p := Provider{ID: "@appstrate/gmail", DisplayName: "Gmail", Description: "Read, send and organise email.",
		AuthMode: "oauth2", AuthorizedURIs: []string{"https://gmail.googleapis.com/**"}, DocsURL: "https://developers.google.com/gmail/api",
		Doc: "# Gmail API\n\n- Base URL: `https://gmail.googleapis.com/gmail/v1`\n"}
	noDoc := Provider{ID: "@acme/crm", Description: `Quotes "here": and a colon`, AuthMode: "api_key", AllowAllURIs: true,
		DocsURL: "https://crm.example/docs"}
	bare := Provider{ID: "@acme/bare", AuthMode: "custom"}
	var all []byte
	for _, pr := range []Provider{p, noDoc, bare} {
		skill := ProviderSkill(pr, ProviderSkillName(pr.ID))
		doc := afps.ParseSkillMD(skill)
		if doc.Name != ProviderSkillName(pr.ID) || !strings.HasSuffix(doc.Description, `READ this skill before any provider_call(providerId="`+pr.ID+`").`) {
			t.Fatalf("%s: frontmatter %q / %q", pr.ID, doc.Name, doc.Description)
		}
		all = append(append(all, skill...), "=====\n"...)
	}
	golden(t, "workspace/provider_skills.golden", all)
}

func TestProviderSkillDescriptionLimit(t *testing.T) {
	long := strings.Repeat("word ", 300) // 1500 characters
	got := providerSkillDescription(Provider{ID: "@acme/x", Description: long}, "Acme")
	if got != `Acme API. READ this skill before any provider_call(providerId="@acme/x").` {
		t.Fatalf("middle clause kept: %q", got)
	}
	fits := strings.Repeat("é", 900)
	got = providerSkillDescription(Provider{ID: "@acme/x", Description: fits + "."}, "Acme")
	if got != "Acme API. "+fits+`. READ this skill before any provider_call(providerId="@acme/x").` {
		t.Fatalf("fitting description: %q", got)
	}
	huge := strings.Repeat("N", 2000)
	got = providerSkillDescription(Provider{ID: "@acme/x"}, huge)
	if n := utf8.RuneCountInString(got); n != 1024 || !strings.HasSuffix(got, `provider_call(providerId="@acme/x").`) {
		t.Fatalf("huge display name: %d characters, %q", n, got[len(got)-60:])
	}
}
