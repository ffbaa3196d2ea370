package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutsideWorkspace is returned for a path that leaves the workspace.
var ErrOutsideWorkspace = errors.New("path is outside the workspace")

// Workspace is the directory the file tools work in. Every access goes through an os.Root, so no path — "..",
// an absolute path elsewhere, a symlink pointing out, even one swapped in during the call — reaches outside.
type Workspace struct {
	dir   string // as given, absolute
	real  string // symlinks resolved
	root  *os.Root
	fsys  fs.FS
	mkdir os.FileMode
}

// OpenWorkspace opens dir as a workspace. Close releases it.
func OpenWorkspace(dir string) (*Workspace, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	root, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspace{dir: abs, real: real, root: root, fsys: root.FS(), mkdir: 0o755}, nil
}

// Dir is the workspace directory.
func (w *Workspace) Dir() string { return w.real }

// Close releases the workspace.
func (w *Workspace) Close() error { return w.root.Close() }

// rel turns a path the model gave (relative to the workspace, or absolute inside it) into a clean relative
// slash path ("." for the workspace itself). Paths that leave the workspace lexically, or through a symlink
// that already exists, are refused with ErrOutsideWorkspace.
func (w *Workspace) rel(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL byte", p)
	}
	if p == "" || p == "~" {
		return ".", nil
	}
	var rel string
	if filepath.IsAbs(p) {
		clean := filepath.Clean(p)
		var ok bool
		if rel, ok = within(w.real, clean); !ok {
			if rel, ok = within(w.dir, clean); !ok {
				return "", outside(p)
			}
		}
	} else {
		rel = filepath.Clean(p)
		if rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", outside(p)
		}
	}
	if err := w.checkSymlinks(rel); err != nil {
		return "", outside(p)
	}
	return filepath.ToSlash(rel), nil
}

// within returns target relative to dir when target is dir or below it.
func within(dir, target string) (string, bool) {
	if target == dir {
		return ".", true
	}
	prefix := strings.TrimSuffix(dir, string(filepath.Separator)) + string(filepath.Separator)
	if rest, ok := strings.CutPrefix(target, prefix); ok {
		return filepath.Clean(rest), true
	}
	return "", false
}

// checkSymlinks resolves the existing part of rel and fails when it lands outside the workspace. It gives a clear
// error early; the os.Root is what actually enforces the boundary.
func (w *Workspace) checkSymlinks(rel string) error {
	full := filepath.Join(w.real, rel)
	existing, rest := full, ""
	for {
		resolved, err := filepath.EvalSymlinks(existing)
		if err == nil {
			target := filepath.Join(resolved, rest)
			if _, ok := within(w.real, target); !ok {
				return ErrOutsideWorkspace
			}
			return nil
		}
		if fi, lerr := os.Lstat(existing); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			// A dangling symlink: where would it point?
			if target, rerr := os.Readlink(existing); rerr == nil {
				if !filepath.IsAbs(target) {
					target = filepath.Join(filepath.Dir(existing), target)
				}
				if _, ok := within(w.real, filepath.Clean(target)); !ok {
					return ErrOutsideWorkspace
				}
			}
		}
		parent := filepath.Dir(existing)
		if parent == existing || len(parent) < len(w.real) {
			return nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
}

func outside(p string) error {
	return fmt.Errorf("%w: %q (paths are relative to the workspace; \"..\", absolute paths elsewhere and symlinks pointing out are refused)", ErrOutsideWorkspace, p)
}

// fsError rewrites the errors of the os.Root into messages for the model.
func fsError(p string, err error) error {
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "path escapes from parent"):
		return outside(p)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or directory", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %v", p, pe.Err)
	}
	return fmt.Errorf("%s: %v", p, err)
}
