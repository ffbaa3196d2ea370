package afps

import (
	"strings"
	"testing"
)

func TestParseSkillMD(t *testing.T) {
	tests := []struct {
		name, in          string
		wantName, wantDsc string
		wantFM            bool
		bodyPrefix        string
	}{
		{"plain", "---\nname: tone\ndescription: Rewrite tone\n---\n# Body", "tone", "Rewrite tone", true, "# Body"},
		{"quoted", "---\nname: \"tone\"\ndescription: 'x: y'\n---\n", "tone", "x: y", true, ""},
		{"crlf and bom", "\ufeff---\r\nname: tone\r\n---\r\nbody", "tone", "", true, "body"},
		{"block scalar", "---\nname: tone\ndescription: >-\n  folded\n  text\n---\n", "tone", "folded text", true, ""},
		{"metadata map", "---\nname: tone\nmetadata:\n  author: me\nallowed-tools: Bash Read\n---\n", "tone", "", true, ""},
		{"no frontmatter", "# Just markdown\nname: nope", "", "", false, "# Just markdown"},
		{"unterminated", "---\nname: tone\n", "", "", false, "---"},
		{"invalid yaml falls back to lines", "---\nname: tone\ndescription: [unclosed\n---\n", "tone", "[unclosed", true, ""},
		{"no name", "---\ndescription: d\n---\n", "", "d", true, ""},
		{"comment stripped by yaml", "---\nname: tone # the name\n---\n", "tone", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ParseSkillMD([]byte(tt.in))
			if d.Name != tt.wantName || d.Description != tt.wantDsc || d.HasFrontmatter != tt.wantFM || !strings.HasPrefix(d.Body, tt.bodyPrefix) {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestSynthesizeSkillManifest(t *testing.T) {
	raw, err := SynthesizeSkillManifest("acme", []byte("---\nname: tone\ndescription: Rewrite\n---\n"), "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"@acme/tone","version":"1.0.0","type":"skill","schemaVersion":"1.1","displayName":"tone","description":"Rewrite"}`
	if string(raw) != want {
		t.Fatalf("got %s", raw)
	}
	if _, err := SynthesizeSkillManifest("acme", []byte("---\nname: Not A Slug\n---\n"), "1.0.0"); err == nil {
		t.Fatal("an invalid synthesised name must fail")
	}
	if _, err := SynthesizeSkillManifest("acme", []byte("no frontmatter"), "1.0.0"); err == nil {
		t.Fatal("no name must fail")
	}
}
