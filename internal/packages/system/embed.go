package system

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed providers tools
var sources embed.FS

// Roots are the top-level folders of the tree; every direct child of one is a package folder.
var Roots = []string{"providers", "tools"}

// FS returns the embedded tree.
func FS() fs.FS { return sources }

// Dirs lists the package folders of fsys ("providers/gmail", "tools/output-2.0.0", ...), sorted.
func Dirs(fsys fs.FS) ([]string, error) {
	var dirs []string
	for _, root := range Roots {
		entries, err := fs.ReadDir(fsys, root)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, path.Join(root, e.Name()))
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}
