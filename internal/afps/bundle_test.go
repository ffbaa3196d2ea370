package afps

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// mkpkg builds a valid in-memory package of the given type with dependencies.
func mkpkg(t testing.TB, typ Type, name, version string, deps map[string]map[string]string) *Package {
	t.Helper()
	m := map[string]any{"name": name, "version": version, "type": string(typ), "schemaVersion": "1.1", "displayName": name}
	if deps != nil {
		m["dependencies"] = deps
	}
	files := map[string][]byte{}
	switch typ {
	case TypeAgent:
		files["prompt.md"] = []byte("Do " + name)
	case TypeSkill:
		files["SKILL.md"] = []byte("---\nname: s\n---\nbody " + version)
	case TypeTool:
		m["entrypoint"] = "tool.js"
		m["tool"] = map[string]any{"name": "t", "description": "d", "inputSchema": map[string]any{"type": "object"}}
		files["tool.js"] = []byte("export default () => {}")
	case TypeProvider:
		m["definition"] = map[string]any{"authMode": "custom", "credentials": map[string]any{"schema": map[string]any{}}}
	}
	raw, _ := json.Marshal(m)
	files["manifest.json"] = raw
	p, err := LoadPackage(files, ValidateOptions{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestBundleRoundTrip(t *testing.T) {
	root := mkpkg(t, TypeAgent, "@acme/agent", "1.0.0", map[string]map[string]string{
		"skills": {"@acme/skill": "^1.0.0"}, "tools": {"@acme/tool": "~2.1"}, "providers": {"@acme/prov": "*"},
	})
	cat := NewMemCatalog(
		mkpkg(t, TypeSkill, "@acme/skill", "1.0.0", nil),
		mkpkg(t, TypeSkill, "@acme/skill", "1.4.0", map[string]map[string]string{"providers": {"@acme/prov": "^1"}}),
		mkpkg(t, TypeSkill, "@acme/skill", "2.0.0", nil),
		mkpkg(t, TypeSkill, "@acme/skill", "1.5.0-beta.1", nil),
		mkpkg(t, TypeTool, "@acme/tool", "2.1.3", nil),
		mkpkg(t, TypeTool, "@acme/tool", "2.2.0", nil),
		mkpkg(t, TypeProvider, "@acme/prov", "1.2.0", nil),
		mkpkg(t, TypeProvider, "@acme/prov", "0.9.0", nil),
	)
	meta := json.RawMessage(`{"builder":"test","x-run":"r1"}`)
	b, res, err := BuildBundle(context.Background(), root, cat, meta)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []string{"@acme/agent@1.0.0", "@acme/prov@1.2.0", "@acme/skill@1.4.0", "@acme/tool@2.1.3"}
	if got := b.Identities(); !slices.Equal(got, wantIDs) {
		t.Fatalf("identities = %q", got)
	}
	if len(res.Cycles) != 0 || !slices.Equal(res.Edges["@acme/skill@1.4.0"], []string{"@acme/prov@1.2.0"}) {
		t.Fatalf("resolution: %+v", res)
	}
	data, err := b.Write()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := b.Write()
	if !bytes.Equal(data, again) {
		t.Fatal("bundle writer is not deterministic")
	}
	if !LooksLikeBundle(data) {
		t.Fatal("LooksLikeBundle")
	}
	got, err := ReadBundle(data, BundleLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got.Root != "@acme/agent@1.0.0" || got.Integrity != b.Integrity || string(got.Metadata) != `{"builder":"test","x-run":"r1"}` {
		t.Fatalf("read back: root %q integrity %q metadata %s", got.Root, got.Integrity, got.Metadata)
	}
	for _, id := range wantIDs {
		bp := got.Packages[id]
		if _, err := bp.Package(ValidateOptions{}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !bytes.Equal(bp.Record, b.Packages[id].Record) {
			t.Fatalf("%s record differs", id)
		}
	}
	if got.Packages["@acme/skill@1.4.0"].Path != "packages/@acme/skill/1.4.0/" {
		t.Fatalf("path = %q", got.Packages["@acme/skill@1.4.0"].Path)
	}
	// Read → write gives the same bytes; integrity does not depend on metadata.
	rewritten, _ := got.Write()
	if !bytes.Equal(rewritten, data) {
		t.Fatal("read → write must be identical")
	}
	b2, _, _ := BuildBundle(context.Background(), root, cat, nil)
	if b2.Integrity != b.Integrity {
		t.Fatal("metadata must not change the bundle integrity")
	}
	// Every entry is STORE with the pinned mtime; bundle.json is canonical JSON.
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	for _, f := range zr.File {
		if f.Method != zip.Store || !f.Modified.Equal(PinnedModTime) {
			t.Fatalf("%s: method %d mtime %v", f.Name, f.Method, f.Modified)
		}
	}
	if zr.File[0].Name != BundleFile {
		t.Fatalf("first entry %q", zr.File[0].Name)
	}
	rc, _ := zr.File[0].Open()
	doc, _ := io.ReadAll(rc)
	canon, _ := CanonicalizeJSON(doc)
	if !bytes.Equal(doc, canon) || !strings.HasPrefix(string(doc), `{"bundleFormatVersion":"1.0","integrity":"sha256-`) {
		t.Fatalf("bundle.json not canonical: %s", doc)
	}
}

func TestRecord(t *testing.T) {
	files := map[string][]byte{"b.txt": []byte("bb"), "a,b.txt": []byte(""), "manifest.json": []byte("{}"), "RECORD": []byte("ignored")}
	rec := BuildRecord(files)
	lines := strings.Split(strings.TrimSuffix(string(rec), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "a,b.txt,sha256=") || !strings.HasSuffix(lines[0], ",0") || strings.Contains(string(rec), "=,") {
		t.Fatalf("RECORD:\n%s", rec)
	}
	entries, err := ParseRecord(rec)
	if err != nil || len(entries) != 3 || entries[0].Path != "a,b.txt" || entries[1].Size != 2 {
		t.Fatalf("ParseRecord: %+v %v", entries, err)
	}
	if string(BuildRecord(nil)) != "" {
		t.Fatal("empty RECORD must be empty")
	}
	h := recordHash(nil)
	for _, bad := range []string{"x,sha256=abc,1\n", "x," + h + ",01\n", "x," + h + ",1", "x," + h + ",1\nx," + h + ",1\n", "\n", "x,md5=" + h[7:] + ",1\n", "x," + h + ",-1\n"} {
		if _, err := ParseRecord([]byte(bad)); err == nil {
			t.Errorf("ParseRecord(%q) must fail", bad)
		}
	}
}

// rezip rewrites a bundle archive with edit applied to its (name → content) map, keeping STORE entries.
func rezip(t *testing.T, data []byte, edit func(map[string][]byte)) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
	}
	edit(files)
	var entries []zent
	for _, p := range sortedPaths(files) {
		entries = append(entries, zent{name: p, body: files[p]})
	}
	return craftZip(t, entries...)
}

func editJSON(t *testing.T, files map[string][]byte, name string, f func(map[string]any)) {
	var doc map[string]any
	if err := json.Unmarshal(files[name], &doc); err != nil {
		t.Fatal(err)
	}
	f(doc)
	files[name], _ = CanonicalJSON(doc)
}

func TestReadBundleRejects(t *testing.T) {
	root := mkpkg(t, TypeAgent, "@acme/agent", "1.0.0", map[string]map[string]string{"skills": {"@acme/skill": "^1"}})
	skill := mkpkg(t, TypeSkill, "@acme/skill", "1.0.0", nil)
	b, err := NewBundle(root, []*Package{skill}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := b.Write()
	const sk = "packages/@acme/skill/1.0.0/"
	tests := []struct {
		name string
		edit func(map[string][]byte)
		data []byte
		code Code
	}{
		{"not a zip", nil, []byte("garbage"), CodeArchiveInvalid},
		{"no bundle.json", func(f map[string][]byte) { delete(f, BundleFile) }, nil, CodeBundleJSONMissing},
		{"bundle.json not json", func(f map[string][]byte) { f[BundleFile] = []byte("{") }, nil, CodeBundleJSONInvalid},
		{"bundle.json missing fields", func(f map[string][]byte) { f[BundleFile] = []byte(`{"bundleFormatVersion":"1.0"}`) }, nil, CodeBundleJSONInvalid},
		{"major version 2", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) { d["bundleFormatVersion"] = "2.0" })
		}, nil, CodeVersionUnsupported},
		{"traversal entry", func(f map[string][]byte) { f["packages/../evil"] = []byte("x") }, nil, CodeArchiveInvalid},
		{"absolute entry", func(f map[string][]byte) { f["/evil"] = []byte("x") }, nil, CodeArchiveInvalid},
		{"backslash entry", func(f map[string][]byte) { f["a\\b"] = []byte("x") }, nil, CodeArchiveInvalid},
		{"dot segment", func(f map[string][]byte) { f["packages/./x"] = []byte("x") }, nil, CodeArchiveInvalid},
		{"too deep", func(f map[string][]byte) { f[strings.Repeat("d/", 17)+"x"] = []byte("x") }, nil, CodeLimitsExceeded},
		{"RECORD missing", func(f map[string][]byte) { delete(f, sk+RecordFile) }, nil, CodeRecordMissing},
		{"RECORD malformed", func(f map[string][]byte) { f[sk+RecordFile] = []byte("nonsense") }, nil, CodeRecordMalformed},
		{"file changed", func(f map[string][]byte) { f[sk+"SKILL.md"] = []byte("---\nname: evil\n---\n") }, nil, CodeRecordMismatch},
		{"file added", func(f map[string][]byte) { f[sk+"extra.txt"] = []byte("x") }, nil, CodeRecordMismatch},
		{"file removed", func(f map[string][]byte) { delete(f, sk+"SKILL.md") }, nil, CodeRecordMismatch},
		{"package integrity", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) {
				d["packages"].(map[string]any)["@acme/skill@1.0.0"].(map[string]any)["integrity"] = SRI([]byte("x"))
			})
		}, nil, CodeIntegrityMismatch},
		{"bundle integrity", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) { d["integrity"] = SRI([]byte("x")) })
		}, nil, CodeIntegrityMismatch},
		{"root not a package", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) { d["root"] = "@acme/other@1.0.0" })
		}, nil, CodeBundleJSONInvalid},
		{"bad identity", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) {
				pk := d["packages"].(map[string]any)
				pk["acme-skill"] = pk["@acme/skill@1.0.0"]
				delete(pk, "@acme/skill@1.0.0")
			})
		}, nil, CodeBundleJSONInvalid},
		{"path without slash", func(f map[string][]byte) {
			editJSON(t, f, BundleFile, func(d map[string]any) {
				d["packages"].(map[string]any)["@acme/skill@1.0.0"].(map[string]any)["path"] = strings.TrimSuffix(sk, "/")
			})
		}, nil, CodeBundleJSONInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.edit != nil {
				data = rezip(t, good, tt.edit)
			}
			_, err := ReadBundle(data, BundleLimits)
			if CodeOf(err) != tt.code {
				t.Fatalf("code = %q, want %q (%v)", CodeOf(err), tt.code, err)
			}
		})
	}
	// Directory entries (e.g. from a re-zip) are tolerated.
	withDirs := rezip(t, good, func(f map[string][]byte) { f["packages/"] = nil; f[sk] = nil })
	if _, err := ReadBundle(withDirs, BundleLimits); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(good, Limits{MaxCompressed: 100, MaxTotal: 1 << 20, MaxEntrySize: 1 << 20, MaxEntries: 100}); CodeOf(err) != CodeLimitsExceeded {
		t.Fatalf("compressed limit: %v", err)
	}
	if _, err := ReadBundle(good, Limits{MaxCompressed: 1 << 20, MaxTotal: 1 << 20, MaxEntrySize: 1 << 20, MaxEntries: 3}); CodeOf(err) != CodeLimitsExceeded {
		t.Fatalf("file count: %v", err)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	deps := func(kind, id, rng string) map[string]map[string]string {
		return map[string]map[string]string{kind: {id: rng}}
	}
	tests := []struct {
		name    string
		root    *Package
		catalog []*Package
		want    []string // resolved identities; nil when an error is expected
		code    Code
		path    string
		cycles  int
	}{
		{
			name:    "highest satisfying, prereleases excluded",
			root:    mkpkg(t, TypeAgent, "@a/root", "1.0.0", deps("skills", "@a/s", "^1.0.0")),
			catalog: []*Package{mkpkg(t, TypeSkill, "@a/s", "1.0.0", nil), mkpkg(t, TypeSkill, "@a/s", "1.2.0", nil), mkpkg(t, TypeSkill, "@a/s", "1.3.0-rc.1", nil), mkpkg(t, TypeSkill, "@a/s", "2.0.0", nil)},
			want:    []string{"@a/s@1.2.0"},
		},
		{
			name: "missing package",
			root: mkpkg(t, TypeAgent, "@a/root", "1.0.0", deps("tools", "@a/ghost", "^1")),
			code: CodeDependencyUnresolved,
			path: "dependencies.tools.@a/ghost",
		},
		{
			name:    "no satisfying version",
			root:    mkpkg(t, TypeAgent, "@a/root", "1.0.0", deps("skills", "@a/s", "^3")),
			catalog: []*Package{mkpkg(t, TypeSkill, "@a/s", "1.0.0", nil)},
			code:    CodeDependencyUnresolved,
			path:    "dependencies.skills.@a/s",
		},
		{
			name: "two versions of one package required",
			root: mkpkg(t, TypeAgent, "@a/root", "1.0.0", map[string]map[string]string{"skills": {"@a/s": "^1", "@a/t": "*"}}),
			catalog: []*Package{
				mkpkg(t, TypeSkill, "@a/s", "1.0.0", nil), mkpkg(t, TypeSkill, "@a/s", "2.0.0", nil),
				mkpkg(t, TypeSkill, "@a/t", "1.0.0", deps("skills", "@a/s", "^2")),
			},
			code: CodeBundleConflict,
		},
		{
			name: "a later range narrows an earlier pick",
			root: mkpkg(t, TypeAgent, "@a/root", "1.0.0", map[string]map[string]string{"skills": {"@a/s": "^1", "@a/t": "*"}}),
			catalog: []*Package{
				mkpkg(t, TypeSkill, "@a/s", "1.0.0", nil), mkpkg(t, TypeSkill, "@a/s", "1.9.0", nil),
				mkpkg(t, TypeSkill, "@a/t", "1.0.0", deps("skills", "@a/s", "~1.0.0")),
			},
			want: []string{"@a/s@1.0.0", "@a/t@1.0.0"},
		},
		{
			name:    "wrong type in section",
			root:    mkpkg(t, TypeAgent, "@a/root", "1.0.0", deps("skills", "@a/tool", "*")),
			catalog: []*Package{mkpkg(t, TypeTool, "@a/tool", "1.0.0", nil)},
			code:    CodeDependencyUnresolved,
			path:    "dependencies.skills.@a/tool",
		},
		{
			name: "cycle tolerated and deduplicated",
			root: mkpkg(t, TypeAgent, "@a/root", "1.0.0", deps("skills", "@a/s", "*")),
			catalog: []*Package{
				mkpkg(t, TypeSkill, "@a/s", "1.0.0", deps("skills", "@a/t", "*")),
				mkpkg(t, TypeSkill, "@a/t", "1.0.0", deps("skills", "@a/s", "^1")),
			},
			want:   []string{"@a/s@1.0.0", "@a/t@1.0.0"},
			cycles: 1,
		},
		{
			name: "diamond shares one version",
			root: mkpkg(t, TypeAgent, "@a/root", "1.0.0", map[string]map[string]string{"skills": {"@a/l": "*", "@a/r": "*"}}),
			catalog: []*Package{
				mkpkg(t, TypeSkill, "@a/l", "1.0.0", deps("providers", "@a/p", ">=1.0.0 <3")),
				mkpkg(t, TypeSkill, "@a/r", "1.0.0", deps("providers", "@a/p", "^1.1")),
				mkpkg(t, TypeProvider, "@a/p", "1.0.0", nil), mkpkg(t, TypeProvider, "@a/p", "1.5.0", nil), mkpkg(t, TypeProvider, "@a/p", "2.5.0", nil),
			},
			want: []string{"@a/l@1.0.0", "@a/p@1.5.0", "@a/r@1.0.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Resolve(ctx, tt.root, NewMemCatalog(tt.catalog...))
			if tt.want == nil {
				if CodeOf(err) != tt.code {
					t.Fatalf("code = %q, want %q (%v)", CodeOf(err), tt.code, err)
				}
				if tt.path != "" && !slices.Contains(issuePaths(err), tt.path) {
					t.Fatalf("paths = %q, want %q", issuePaths(err), tt.path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Dependencies() {
				got = append(got, p.Manifest.Identity())
			}
			if !slices.Equal(got, tt.want) || len(res.Cycles) != tt.cycles {
				t.Fatalf("resolved %q cycles %q", got, res.Cycles)
			}
		})
	}
}

func TestDetectCycles(t *testing.T) {
	edges := map[string][]string{"r": {"a"}, "a": {"b"}, "b": {"a", "c"}, "c": {"c"}}
	got := fmt.Sprint(DetectCycles(edges, "r"))
	if got != "[[a b a] [c c]]" {
		t.Fatalf("cycles = %s", got)
	}
}
