package afps

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps/semver"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ (written by -update-fixtures from the crafted fixtures) and in
// the f.Add calls below. `go test` runs them as regular tests; run e.g.
// `go test ./internal/afps -run '^$' -fuzz FuzzReadPackageZip -fuzztime 30s` to explore.

func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{validAgent, validSkill, validTool, validProvider, "", "{", "[]", `{"name":1}`,
		`{"type":"agent","input":{"schema":{"type":"object","properties":{"a":{"items":[{"$defs":{"x":{"type":["string","string"]}}}]}}}}}`,
		`{"type":"provider","definition":{"authMode":"api_key","credentials":{"schema":{"properties":{"A":1}},"fieldName":"A"}}}`,
		`{"dependencies":{"skills":{"@a/b":"^1 || >=2 <3.0.0-0"}}}`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseSkillMD(data)
		m, err := ParseManifest(data)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for _, strict := range []bool{false, true} {
			if err := Validate(m, ValidateOptions{Strict: strict}); err != nil {
				ve, ok := err.(*ValidationError)
				if !ok || len(ve.Issues) == 0 {
					t.Fatalf("bad validation error %#v", err)
				}
			}
		}
		out, err := m.ValidatedJSON()
		if err == nil && !json.Valid(out) {
			t.Fatalf("ValidatedJSON produced invalid JSON: %s", out)
		}
		m.Dependencies.All()
	})
}

func FuzzReadPackageZip(f *testing.F) {
	valid, _ := WritePackage(skillFiles())
	f.Add(valid)
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ar, err := ReadArchive(data, PackageLimits)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Whatever the sanitiser keeps is writable and reads back identically.
		out, err := WritePackage(ar.Files)
		if err != nil {
			t.Fatalf("cannot re-write sanitised files: %v", err)
		}
		back, err := ReadArchive(out, Limits{MaxCompressed: 1 << 30, MaxTotal: 1 << 30, MaxEntrySize: 1 << 30, MaxEntries: 1 << 20})
		if err != nil {
			t.Fatalf("cannot re-read: %v", err)
		}
		if back.Stripped == "" && !maps.EqualFunc(ar.Files, back.Files, bytes.Equal) {
			t.Fatalf("round trip changed the files: %q vs %q", slices.Sorted(maps.Keys(ar.Files)), slices.Sorted(maps.Keys(back.Files)))
		}
		if p, err := LoadPackage(ar.Files, ValidateOptions{}); err == nil {
			p.Content()
		}
	})
}

func FuzzReadBundle(f *testing.F) {
	root := mkpkg(f, TypeAgent, "@acme/agent", "1.0.0", map[string]map[string]string{"skills": {"@acme/skill": "^1"}})
	b, err := NewBundle(root, []*Package{mkpkg(f, TypeSkill, "@acme/skill", "1.0.0", nil)}, json.RawMessage(`{"x-a":1}`))
	if err != nil {
		f.Fatal(err)
	}
	data, _ := b.Write()
	f.Add(data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadBundle(data, BundleLimits)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := b.Write()
		if err != nil {
			t.Fatalf("cannot re-write a bundle that was read: %v", err)
		}
		back, err := ReadBundle(out, Limits{MaxCompressed: 1 << 30, MaxTotal: 1 << 30, MaxEntrySize: 1 << 30, MaxEntries: 1 << 20, MaxDepth: 16})
		if err != nil || back.Integrity != b.Integrity || back.Root != b.Root {
			t.Fatalf("re-read: %v", err)
		}
		if cat, err := CatalogFromBundle(b); err == nil {
			if rp := b.RootPackage(); rp != nil {
				_, _ = Resolve(context.Background(), &Package{Manifest: rp.Manifest, Files: rp.Files}, cat)
			}
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"^1.2.3", "~1.2", "1.x || >=2.5.0 <3", "1.2.3 - 2.3.4", "*", "", ">=1.0.0-beta.1 <2",
		"<=1.2", ">*", "^0.0.1-alpha", "1.2.3+build", "||", "v1.2.3", "~> 1", "x.X.*"} {
		f.Add(s, "1.2.3-beta.1")
	}
	f.Fuzz(func(t *testing.T, rng, version string) {
		r, err := semver.ParseRange(rng)
		semver.Valid(version)
		semver.Satisfies(version, rng)
		if err != nil {
			return
		}
		norm := r.String()
		r2, err := semver.ParseRange(norm)
		if err != nil {
			t.Fatalf("normalised range %q of %q does not parse: %v", norm, rng, err)
		}
		if r2.String() != norm {
			t.Fatalf("normalisation not stable: %q → %q → %q", rng, norm, r2.String())
		}
		if r.Satisfies(version) != r2.Satisfies(version) {
			t.Fatalf("%q and its normal form %q disagree on %q", rng, norm, version)
		}
		semver.MaxSatisfying([]string{version, "1.0.0", "2.0.0-rc.1"}, rng)
	})
}

// writeFuzzSeeds writes the crafted fixtures as seed corpus files.
func writeFuzzSeeds(t *testing.T, fixtures map[string][]byte) {
	seeds := map[string]map[string][]byte{
		"FuzzReadPackageZip": fixtures,
		"FuzzReadBundle":     {"zipbomb.afps": fixtures["zipbomb.afps"], "traversal.afps": fixtures["traversal.afps"]},
	}
	for fuzzName, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", fuzzName)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	text := map[string]map[string]string{
		"FuzzParseManifest": {
			"deep-schema":   `{"name":"@a/b","version":"1.0.0","type":"agent","input":{"schema":{"type":"object","properties":{"x":{"anyOf":[{"not":{"items":{"type":"nope"}}}]}}}}}`,
			"provider-keys": `{"name":"@a/b","version":"1.0.0","type":"provider","definition":{"authMode":"oauth1","oauth1":{},"uploadProtocols":["tus","tus"]}}`,
		},
	}
	for fuzzName, files := range text {
		dir := filepath.Join("testdata", "fuzz", fuzzName)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range files {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(s))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseRange")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]string{"hyphen-prerelease": {"1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"}, "null-set": {"<0.0.0-0 || >* || 1.x", "1.0.0-0"}} {
		content := fmt.Sprintf("go test fuzz v1\nstring(%s)\nstring(%s)\n", strconv.Quote(pair[0]), strconv.Quote(pair[1]))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzArchiveEntryNames is structure-aware: it builds valid ZIPs with fuzzed entry names and modes, so the
// sanitiser and the wrapper strip see far more cases than random bytes reach.
func FuzzArchiveEntryNames(f *testing.F) {
	for _, s := range [][2]string{{"../x", "a/b"}, {"/etc/passwd", "w/x"}, {"w/./y", "w//z"}, {"__MACOSX/._a", "a\\b"}, {"a/", "a"}, {"x\x00y", "\xff"}} {
		f.Add(s[0], s[1], uint32(0o644), true)
	}
	f.Fuzz(func(t *testing.T, a, b string, mode uint32, strict bool) {
		data := craftZip(t, zent{name: a, body: []byte("A"), mode: fs.FileMode(mode)}, zent{name: b, body: []byte("B")})
		var ar *Archive
		var err error
		if strict {
			ar, err = readZip(data, BundleLimits, bundleMode)
		} else {
			ar, err = ReadArchive(data, PackageLimits)
		}
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		for p := range ar.Files {
			if clean, reason := sanitizePath(p, true); reason != "" || clean != p {
				t.Fatalf("kept unsafe path %q (%s)", p, reason)
			}
		}
		if len(ar.Files)+len(ar.Dropped) > 2 {
			t.Fatalf("more outputs than entries: %v %v", ar.Files, ar.Dropped)
		}
	})
}
