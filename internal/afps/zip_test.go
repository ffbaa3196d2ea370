package afps

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite testdata/*.afps and the fuzz seed corpora")

func TestFixturesAreCurrent(t *testing.T) {
	fixtures := fixtureArchives(t)
	if *updateFixtures {
		writeFuzzSeeds(t, fixtures)
	}
	for name, data := range fixtures {
		path := filepath.Join("testdata", name)
		if *updateFixtures {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/afps -run TestFixturesAreCurrent -update-fixtures)", err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s is stale (run with -update-fixtures)", path)
		}
		if len(got) > 64<<10 {
			t.Errorf("%s is %d bytes; fixtures must stay small", path, len(got))
		}
	}
}

func TestReadPackageFixtures(t *testing.T) {
	tests := []struct {
		file     string
		code     Code   // "" = readable
		dropped  string // substring of a Dropped entry
		stripped string
	}{
		{"zipbomb.afps", CodeZipBomb, "", ""},
		{"ratio-bomb.afps", CodeZipBomb, "", ""},
		{"traversal.afps", "", "../evil.txt: path traversal", ""},
		{"absolute.afps", "", "/etc/cron.d/evil: absolute path", ""},
		{"symlink.afps", "", "link: not a regular file", ""},
		{"duplicate.afps", CodeZipInvalid, "", ""},
		{"wrapper.afps", "", "", "my-skill"},
		{"macosx.afps", "", "__MACOSX/._SKILL.md: macOS resource fork", ""},
		{"backslash.afps", "", "backslash in path", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ReadPackage(data, ValidateOptions{})
			if CodeOf(err) != tt.code {
				t.Fatalf("code = %q, want %q (%v)", CodeOf(err), tt.code, err)
			}
			if tt.code != "" {
				return
			}
			if p.Manifest.Name != "@acme/tone" || len(p.Files) != 2 || p.Stripped != tt.stripped {
				t.Fatalf("package: files %v stripped %q", p.Paths(), p.Stripped)
			}
			if tt.dropped != "" && !slices.ContainsFunc(p.Dropped, func(s string) bool { return strings.Contains(s, tt.dropped) }) {
				t.Fatalf("dropped = %q, want one containing %q", p.Dropped, tt.dropped)
			}
		})
	}
}

func TestReadArchiveLimits(t *testing.T) {
	small := Limits{MaxCompressed: 1 << 20, MaxTotal: 1000, MaxEntrySize: 600, MaxEntries: 5, RatioMinSize: 1 << 20, MaxRatio: 100}
	body := func(n int) []byte { return bytes.Repeat([]byte("abcdefghij"), n/10) }
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		code    Code
		message string
	}{
		{"compressed size", craftZip(t, zent{name: "a", body: body(100)}), Limits{MaxCompressed: 10, MaxTotal: 1 << 20, MaxEntrySize: 1 << 20, MaxEntries: 10}, CodeFileTooLarge, ""},
		{"not a zip", []byte("PK\x03\x04 definitely not a zip"), PackageLimits, CodeZipInvalid, ""},
		{"empty input", nil, PackageLimits, CodeZipInvalid, ""},
		{"too many entries", craftZip(t, zent{name: "1"}, zent{name: "2"}, zent{name: "3"}, zent{name: "4"}, zent{name: "5"}, zent{name: "6"}), small, CodeZipBomb, "entries"},
		{"declared entry size", craftZip(t, zent{name: "a", body: body(100), declared: 700}), small, CodeZipBomb, "per-file"},
		{"declared total", craftZip(t, zent{name: "a", body: body(500)}, zent{name: "b", body: body(500)}, zent{name: "c", body: body(100)}), small, CodeZipBomb, "declares more"},
		{"lying header is caught while reading", craftZip(t, zent{name: "a", body: body(500), declared: 10}), small, CodeZipInvalid, ""},
		{"within limits", craftZip(t, zent{name: "a", body: body(500)}, zent{name: "b", body: body(400)}), small, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadArchive(tt.data, tt.lim)
			if CodeOf(err) != tt.code {
				t.Fatalf("code = %q, want %q (%v)", CodeOf(err), tt.code, err)
			}
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %q should mention %q", err, tt.message)
			}
		})
	}
}

func TestReadArchiveSanitiser(t *testing.T) {
	data := craftZip(t,
		zent{name: "wrap/manifest.json", body: []byte(validSkill)},
		zent{name: "wrap/SKILL.md", body: []byte("---\nname: tone\n---\n")},
		zent{name: "wrap/./refs//a.md", body: []byte("a")},
		zent{name: "wrap/dir/", body: nil},
		zent{name: "wrap/fifo", mode: fs.ModeNamedPipe | 0o644},
		zent{name: "wrap/nul\x00.txt", body: []byte("x")},
		zent{name: "wrap/\xff.txt", body: []byte("x")},
	)
	ar, err := ReadArchive(data, PackageLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedPaths(ar.Files); !slices.Equal(got, []string{"SKILL.md", "manifest.json", "refs/a.md"}) || ar.Stripped != "wrap" {
		t.Fatalf("files = %q, stripped %q", got, ar.Stripped)
	}
	if len(ar.Dropped) != 3 {
		t.Fatalf("dropped = %q", ar.Dropped)
	}
	// Not every entry under one folder: nothing is stripped.
	data = craftZip(t, zent{name: "a/manifest.json", body: []byte("{}")}, zent{name: "b/x", body: []byte("x")})
	if ar, err := ReadArchive(data, PackageLimits); err != nil || ar.Stripped != "" {
		t.Fatalf("stripped %q, %v", ar.Stripped, err)
	}
	// Stripping must not let one entry overwrite another.
	data = craftZip(t, zent{name: "w/w/z", body: []byte("inner")}, zent{name: "w/z", body: []byte("outer")})
	ar, err = ReadArchive(data, PackageLimits)
	if err != nil || string(ar.Files["z"]) != "outer" || string(ar.Files["w/z"]) != "inner" {
		t.Fatalf("strip collision: %v %v", ar.Files, err)
	}
}

func TestLoadPackageContent(t *testing.T) {
	agent := func(prompt string) map[string][]byte {
		return map[string][]byte{"manifest.json": []byte(validAgent), "prompt.md": []byte(prompt)}
	}
	tool := map[string][]byte{"manifest.json": []byte(validTool)}
	tests := []struct {
		name  string
		files map[string][]byte
		want  []Issue
	}{
		{"no manifest", map[string][]byte{"prompt.md": []byte("x")}, []Issue{{Path: "", Code: CodeMissingManifest}}},
		{"empty manifest", map[string][]byte{"manifest.json": []byte(" ")}, []Issue{{Path: "", Code: CodeMissingManifest}}},
		{"manifest not json", map[string][]byte{"manifest.json": []byte("{nope")}, []Issue{{Path: "", Code: CodeInvalidManifest}}},
		{"agent ok", agent("Do the thing"), nil},
		{"agent blank prompt", agent(" \n\t"), []Issue{{Path: "prompt.md", Code: CodeMissingContent}}},
		{"agent no prompt", map[string][]byte{"manifest.json": []byte(validAgent)}, []Issue{{Path: "prompt.md", Code: CodeMissingContent}}},
		{"skill ok", skillFiles(), nil},
		{"skill no SKILL.md", map[string][]byte{"manifest.json": []byte(validSkill)}, []Issue{{Path: "SKILL.md", Code: CodeMissingContent}}},
		{"skill no frontmatter name", map[string][]byte{"manifest.json": []byte(validSkill), "SKILL.md": []byte("# no frontmatter")}, []Issue{{Path: "SKILL.md", Code: CodeInvalidContent}}},
		{"tool missing entrypoint file", tool, []Issue{{Path: "entrypoint", Code: CodeMissingContent}}},
		{"manifest and content issues together", map[string][]byte{"manifest.json": patch(t, validAgent, map[string]any{"version": "x"})}, []Issue{{Path: "version", Code: CodeInvalidManifest}, {Path: "prompt.md", Code: CodeMissingContent}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadPackage(tt.files, ValidateOptions{})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Content() == "" {
					t.Fatal("no primary content")
				}
				return
			}
			ve, ok := err.(*ValidationError)
			if !ok || len(ve.Issues) != len(tt.want) {
				t.Fatalf("err = %v", err)
			}
			for i, w := range tt.want {
				if ve.Issues[i].Path != w.Path || ve.Issues[i].Code != w.Code {
					t.Fatalf("issue %d = %+v, want %+v", i, ve.Issues[i], w)
				}
			}
			if ve.Code() != tt.want[0].Code {
				t.Fatalf("Code() = %q", ve.Code())
			}
		})
	}
	files := map[string][]byte{"manifest.json": []byte(validTool), "tool.ts": []byte("export default () => {}")}
	if p, err := LoadPackage(files, ValidateOptions{}); err != nil || p.Content() != "export default () => {}" {
		t.Fatalf("tool content: %v", err)
	}
	prov := map[string][]byte{"manifest.json": []byte(validProvider)}
	if p, err := LoadPackage(prov, ValidateOptions{}); err != nil || p.Content() != validProvider {
		t.Fatalf("provider content falls back to the manifest: %v", err)
	}
	prov["PROVIDER.md"] = []byte("# Gmail")
	if p, _ := LoadPackage(prov, ValidateOptions{}); p.Content() != "# Gmail" {
		t.Fatal("provider content is PROVIDER.md when present")
	}
}

func TestWriterDeterminism(t *testing.T) {
	files := skillFiles()
	files["references/guide.md"] = []byte("guide")
	files["scripts/run.sh"] = []byte("#!/bin/sh\necho hi\n")
	a, sriA, err := Pack(files, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, sriB, err := Pack(files, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || sriA != sriB || sriA != SRI(a) {
		t.Fatal("packing the same files twice must give identical bytes and integrity")
	}
	p, err := ReadPackage(a, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := WritePackage(p.Files)
	if err != nil || !bytes.Equal(a, c) {
		t.Fatal("pack → read → pack must be identical")
	}
	// A different insertion order of the same map content changes nothing; a content change changes the SRI.
	files["SKILL.md"] = append([]byte(nil), files["SKILL.md"]...)
	files["SKILL.md"][len(files["SKILL.md"])-1] = '!'
	_, sriC, _ := Pack(files, ValidateOptions{})
	if sriC == sriA {
		t.Fatal("different content, same integrity")
	}
	stored, err := WriteStoredPackage(p.Files)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadArchive(stored, PackageLimits)
	if err != nil || len(back.Files) != len(p.Files) {
		t.Fatalf("stored archive: %v", err)
	}
	for _, bad := range []string{"../x", "/abs", "a//b", "./a", "a\\b", ""} {
		if _, err := WritePackage(map[string][]byte{bad: nil}); err == nil {
			t.Errorf("writing entry %q must fail", bad)
		}
	}
}
