package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPackageInitValidatePack(t *testing.T) {
	for _, typ := range []string{"agent", "skill", "tool", "provider"} {
		t.Run(typ, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "My "+typ+" Pkg")
			if code, out, errs := run(t, "package", "init", typ, dir); code != 0 || !strings.Contains(out, "created") {
				t.Fatalf("init: %d %s %s", code, out, errs)
			}
			raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
			m, err := afps.ParseManifest(raw)
			if err != nil || m.Name != "@local/my-"+typ+"-pkg" || string(m.Type) != typ {
				t.Fatalf("manifest: %s %v", raw, err)
			}
			if code, out, errs := run(t, "package", "validate", dir); code != 0 || !strings.HasPrefix(out, "valid") {
				t.Fatalf("validate dir: %d %q %q", code, out, errs)
			}
			archive := filepath.Join(t.TempDir(), "out.afps")
			code, out, errs := run(t, "package", "pack", dir, "-o", archive)
			if code != 0 {
				t.Fatalf("pack: %d %q %q", code, out, errs)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			data, err := os.ReadFile(archive)
			if err != nil || len(lines) != 2 || lines[0] != archive || lines[1] != afps.SRI(data) {
				t.Fatalf("pack output %q, err %v", out, err)
			}
			if code, out, errs := run(t, "package", "validate", archive); code != 0 || !strings.HasPrefix(out, "valid") || !strings.Contains(out, lines[1]) {
				t.Fatalf("validate archive: %d %q %q", code, out, errs)
			}
			// Packing again gives the same bytes and integrity.
			second := filepath.Join(t.TempDir(), "again.afps")
			_, out2, _ := run(t, "package", "pack", dir, "-o", second)
			data2, _ := os.ReadFile(second)
			if !bytes.Equal(data, data2) || strings.Split(out2, "\n")[1] != lines[1] {
				t.Fatal("second pack differs")
			}
			if _, err := afps.ReadPackage(data, afps.ValidateOptions{}); err != nil {
				t.Fatalf("server-side read: %v", err)
			}
		})
	}
}

func TestPackageInitOptions(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := run(t, "package", "init", "skill", dir, "--name", "@acme/tone"); code != 0 {
		t.Fatal(errs)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "SKILL.md"))
	if !strings.Contains(string(raw), "name: tone") {
		t.Fatalf("SKILL.md: %s", raw)
	}
	if code, _, errs := run(t, "package", "init", "skill", dir); code != ExitConfig || !strings.Contains(errs, "already exists") {
		t.Fatalf("init over existing files: %d %s", code, errs)
	}
	if code, _, _ := run(t, "package", "init", "skill", dir, "--force", "--name", "@acme/tone"); code != 0 {
		t.Fatal("--force must overwrite")
	}
	if code, _, errs := run(t, "package", "init", "workflow", t.TempDir()); code != ExitConfig || !strings.Contains(errs, "unknown package type") {
		t.Fatalf("bad type: %d %s", code, errs)
	}
	if code, _, errs := run(t, "package", "init", "agent", t.TempDir(), "--name", "NoScope"); code != ExitConfig || !strings.Contains(errs, "not a package id") {
		t.Fatalf("bad name: %d %s", code, errs)
	}
	// Default output name and cwd.
	wd, _ := os.Getwd()
	out := t.TempDir()
	if err := os.Chdir(out); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	if code, stdout, errs := run(t, "package", "pack", dir); code != 0 || !strings.HasPrefix(stdout, "acme-tone-0.1.0.afps\n") {
		t.Fatalf("default output: %d %q %q", code, stdout, errs)
	}
}

func TestPackageValidateReportsIssues(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name":"acme","version":"1","type":"agent","displayName":"x","schemaVersion":"1.1",
		"dependencies":{"providers":{"@acme/gmail":"^^1"}}}`), 0o644)
	code, out, errs := run(t, "package", "validate", dir)
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"name: ", "version: ", "dependencies.providers.@acme/gmail: Invalid semver range", "prompt.md: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output misses %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "not a valid package") {
		t.Errorf("stderr %q", errs)
	}
	if code, out, _ := run(t, "package", "pack", dir, "-o", filepath.Join(t.TempDir(), "x.afps")); code != ExitFailure || !strings.Contains(out, "version: ") {
		t.Fatalf("pack of an invalid folder: %d %q", code, out)
	}
	// An archive-level problem is one issue with its code.
	bad := filepath.Join(t.TempDir(), "bad.afps")
	os.WriteFile(bad, []byte("not a zip"), 0o644)
	if code, out, _ := run(t, "package", "validate", bad); code != ExitFailure || !strings.HasPrefix(out, "ZIP_INVALID: ") {
		t.Fatalf("not a zip: %d %q", code, out)
	}
	if code, _, _ := run(t, "package", "validate", filepath.Join(dir, "nope")); code != ExitConfig {
		t.Fatalf("missing path: %d", code)
	}
	// Symlinks in a package folder are refused.
	os.WriteFile(filepath.Join(dir, "prompt.md"), []byte("x"), 0o644)
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err == nil {
		if code, _, errs := run(t, "package", "validate", dir); code != ExitFailure || !strings.Contains(errs, "not a regular file") {
			t.Fatalf("symlink: %d %q", code, errs)
		}
	}
}

func TestPackageValidateBundle(t *testing.T) {
	load := func(typ string) *afps.Package {
		dir := t.TempDir()
		if code, _, errs := run(t, "package", "init", typ, dir, "--name", "@acme/"+typ); code != 0 {
			t.Fatal(errs)
		}
		files, err := afps.LoadDir(os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if typ == "agent" {
			files["manifest.json"] = bytes.Replace(files["manifest.json"], []byte(`"input"`), []byte(`"dependencies": {"skills": {"@acme/skill": "^0.1"}},
  "input"`), 1)
		}
		p, err := afps.LoadPackage(files, afps.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	root, skill := load("agent"), load("skill")
	b, _, err := afps.BuildBundle(context.Background(), root, afps.NewMemCatalog(skill), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := b.Write()
	path := filepath.Join(t.TempDir(), "agent.afps-bundle")
	os.WriteFile(path, data, 0o644)
	if code, out, errs := run(t, "package", "validate", path); code != 0 || !strings.Contains(out, "bundle @acme/agent@0.1.0 with 2 package(s)") {
		t.Fatalf("bundle: %d %q %q", code, out, errs)
	}
	// --strict: the scaffolded agent has no author.
	if code, out, _ := run(t, "package", "validate", "--strict", path); code != ExitFailure || !strings.Contains(out, "@acme/agent@0.1.0/author: Required") {
		t.Fatalf("strict bundle: %d %q", code, out)
	}
}
