package jstools

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoJSRuntime is matched (errors.Is) by the error of Start when no JavaScript runtime can be found.
var ErrNoJSRuntime = errors.New("no JavaScript runtime")

// NoRuntimeError says which runtimes were looked for and not found on PATH.
type NoRuntimeError struct {
	Tried []string
}

func (e *NoRuntimeError) Error() string {
	return "no JavaScript runtime to host tool packages: " + strings.Join(e.Tried, " nor ") +
		" found on PATH (install Node.js >= 18 or Bun)"
}

// Is makes errors.Is(err, ErrNoJSRuntime) true.
func (e *NoRuntimeError) Is(target error) bool { return target == ErrNoJSRuntime }

// jsRuntime is the program that runs the host script.
type jsRuntime struct {
	kind string // "node" or "bun"
	path string
}

// args is the command line that runs script.
func (r jsRuntime) args(script string) []string {
	if r.kind == "bun" {
		// --no-install: never fetch a missing import from a registry at run time.
		return []string{r.path, "--no-install", script}
	}
	return []string{r.path, script}
}

// findRuntime resolves Options.Runtime: "" tries node then bun on PATH; "node" or "bun" looks up that one; a
// path is used as is (its base name tells node from bun, node by default).
func findRuntime(want string) (jsRuntime, error) {
	candidates := []string{"node", "bun"}
	if want != "" {
		candidates = []string{want}
	}
	for _, name := range candidates {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		kind := "node"
		if strings.HasPrefix(filepath.Base(name), "bun") {
			kind = "bun"
		}
		return jsRuntime{kind: kind, path: path}, nil
	}
	return jsRuntime{}, &NoRuntimeError{Tried: candidates}
}
