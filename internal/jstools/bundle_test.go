package jstools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBundle(t *testing.T) {
	abs, err := filepath.Abs("testdata/packages/calc/tool.ts")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pkg      Package
		maxBytes int
		err      string   // prefix of the error; "" = success
		contains []string // in the bundle
		lacks    []string
	}{
		{name: "typescript with a relative import", pkg: calcPackage, maxBytes: DefaultMaxBundleBytes,
			contains: []string{"function compute(", `import { writeSync } from "node:fs"`, "export {"},
			lacks:    []string{"interface CalcParams", "./lib/math", "pi-coding-agent"}},
		{name: "shimmed typebox", pkg: typeboxPackage, maxBytes: DefaultMaxBundleBytes,
			contains: []string{"function StringEnum(", "TypeBox.Optional"}, lacks: []string{"@sinclair/typebox"}},
		{name: "the package's own copy of a shimmed module", pkg: testPackage("own-typebox", "tool.ts"),
			maxBytes: DefaultMaxBundleBytes, contains: []string{"own typebox"}, lacks: []string{"StringEnum"}},
		{name: "too large", pkg: calcPackage, maxBytes: 100, err: "the bundle is too large ("},
		{name: "absolute entrypoint", pkg: Package{ID: "x", Dir: "testdata/packages/calc", Entrypoint: abs},
			maxBytes: DefaultMaxBundleBytes, err: "entrypoint " + `"` + abs + `"` + " must be a relative path inside the package"},
		{name: "empty entrypoint", pkg: Package{ID: "x", Dir: "testdata/packages/calc"}, maxBytes: DefaultMaxBundleBytes,
			err: `entrypoint "" must be a relative path inside the package`},
		{name: "entrypoint is a directory", pkg: testPackage("calc", "lib"), maxBytes: DefaultMaxBundleBytes,
			err: `entrypoint "lib": no such file in the package`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle.mjs")
			err := bundle(tt.pkg, out, tt.maxBytes)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q…", err, tt.err)
				}
				if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
					t.Errorf("a failed bundle was written")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			code, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(code), s) {
					t.Errorf("bundle lacks %q:\n%s", s, code)
				}
			}
			for _, s := range tt.lacks {
				if strings.Contains(string(code), s) {
					t.Errorf("bundle contains %q:\n%s", s, code)
				}
			}
		})
	}
}
