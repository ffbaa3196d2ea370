package jstools

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

//go:embed shim.mjs
var shimSource string

// shimNamespace is the esbuild namespace of the shim module.
const shimNamespace = "appstrate-shim"

// shimmedImports are the modules that resolve to shim.mjs when the package does not ship them itself.
var shimmedImports = regexp.MustCompile(`^(@mariozechner/pi-ai|@mariozechner/pi-coding-agent|@sinclair/typebox|typebox)$`)

// resolvingOwnCopy marks the resolution the shim plugin asks esbuild for, so that it does not recurse.
type resolvingOwnCopy struct{}

// bundle transpiles pkg's entrypoint and everything it imports from the package into one ESM file at out.
func bundle(pkg Package, out string, maxBytes int) error {
	dir, err := filepath.Abs(pkg.Dir)
	if err != nil {
		return fmt.Errorf("package directory: %w", err)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return fmt.Errorf("package directory %s is not a readable directory", pkg.Dir)
	}
	entry := filepath.FromSlash(pkg.Entrypoint)
	if entry == "" || !filepath.IsLocal(entry) {
		return fmt.Errorf("entrypoint %q must be a relative path inside the package", pkg.Entrypoint)
	}
	if info, err := os.Stat(filepath.Join(dir, entry)); err != nil || info.IsDir() {
		return fmt.Errorf("entrypoint %q: no such file in the package", pkg.Entrypoint)
	}

	options := api.BuildOptions{
		EntryPoints:   []string{filepath.Join(dir, entry)},
		AbsWorkingDir: dir,
		Bundle:        true,
		Format:        api.FormatESModule,
		Platform:      api.PlatformNode,
		Target:        api.ES2022,
		External:      []string{"bun:*"},
		Outfile:       out,
		Metafile:      true,
		LogLevel:      api.LogLevelSilent,
		Plugins:       []api.Plugin{shimPlugin()},
	}
	if tsconfig := filepath.Join(dir, "tsconfig.json"); fileExists(tsconfig) {
		options.Tsconfig = tsconfig
	} else {
		options.TsconfigRaw = "{}" // never pick up a tsconfig.json from outside the package
	}
	result := api.Build(options)
	if len(result.Errors) > 0 {
		return bundleError(result.Errors)
	}
	if err := checkInputsInside(result.Metafile); err != nil {
		return err
	}
	if len(result.OutputFiles) != 1 {
		return fmt.Errorf("bundling produced %d files, want 1", len(result.OutputFiles))
	}
	code := result.OutputFiles[0].Contents
	if len(code) > maxBytes {
		return fmt.Errorf("the bundle is too large (%d bytes, limit %d)", len(code), maxBytes)
	}
	if err := os.WriteFile(out, code, 0o600); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// shimPlugin resolves the shimmed imports to shim.mjs unless the package resolves them itself.
func shimPlugin() api.Plugin {
	return api.Plugin{
		Name: "appstrate-shim",
		Setup: func(build api.PluginBuild) {
			build.OnResolve(api.OnResolveOptions{Filter: shimmedImports.String()},
				func(args api.OnResolveArgs) (api.OnResolveResult, error) {
					if _, again := args.PluginData.(resolvingOwnCopy); again {
						return api.OnResolveResult{}, nil
					}
					own := build.Resolve(args.Path, api.ResolveOptions{
						Importer: args.Importer, ResolveDir: args.ResolveDir, Kind: args.Kind,
						Namespace: args.Namespace, PluginData: resolvingOwnCopy{},
					})
					if len(own.Errors) == 0 {
						return api.OnResolveResult{Path: own.Path, Namespace: own.Namespace, External: own.External}, nil
					}
					return api.OnResolveResult{Path: "shim.mjs", Namespace: shimNamespace}, nil
				})
			build.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: shimNamespace},
				func(api.OnLoadArgs) (api.OnLoadResult, error) {
					return api.OnLoadResult{Contents: &shimSource, Loader: api.LoaderJS}, nil
				})
		},
	}
}

// bundleError turns esbuild's messages into one error naming file, line and column.
func bundleError(messages []api.Message) error {
	const shown = 5
	lines := make([]string, 0, shown+1)
	for i, m := range messages {
		if i == shown {
			lines = append(lines, fmt.Sprintf("(and %d more)", len(messages)-shown))
			break
		}
		text := m.Text
		if strings.HasPrefix(text, "Could not resolve") {
			text += " (a tool package must be self-contained: bundle its dependencies into it)"
		}
		if m.Location != nil {
			text = fmt.Sprintf("%s:%d:%d: %s", m.Location.File, m.Location.Line, m.Location.Column+1, text)
		}
		lines = append(lines, text)
	}
	return errors.New("cannot bundle: " + strings.Join(lines, "; "))
}

// checkInputsInside refuses a bundle that read files outside the package directory (paths in the metafile
// are relative to it).
func checkInputsInside(metafile string) error {
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(metafile), &meta); err != nil {
		return fmt.Errorf("bundling: unreadable metafile: %w", err)
	}
	var outside []string
	for input := range meta.Inputs {
		if strings.HasPrefix(input, shimNamespace+":") {
			continue
		}
		if !filepath.IsLocal(filepath.FromSlash(input)) {
			outside = append(outside, input)
		}
	}
	if len(outside) > 0 {
		sort.Strings(outside)
		return fmt.Errorf("cannot bundle: the package imports files outside its directory: %s", strings.Join(outside, ", "))
	}
	return nil
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}
