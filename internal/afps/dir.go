package afps

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// skippedDirs are folders LoadDir never packs.
var skippedDirs = map[string]bool{".git": true, ".hg": true, ".svn": true, "__MACOSX": true, "node_modules": true}

// LoadDir reads a package source folder into a file map for Pack/LoadPackage. It skips VCS folders,
// node_modules, __MACOSX and .DS_Store anywhere, and `.afps`/`.afps-bundle` archives at the root (earlier
// pack outputs); it refuses symlinks and other non-regular files, and stops once PackageLimits' entry count or
// decompressed total would be exceeded.
func LoadDir(fsys fs.FS) (map[string][]byte, error) {
	files := map[string][]byte{}
	var total int64
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		name := path.Base(p)
		if d.IsDir() {
			if skippedDirs[name] {
				return fs.SkipDir
			}
			return nil
		}
		if name == ".DS_Store" || (!strings.Contains(p, "/") && (strings.HasSuffix(name, ".afps") || strings.HasSuffix(name, ".afps-bundle"))) {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (%s); packages hold regular files only", p, d.Type())
		}
		if len(files) >= PackageLimits.MaxEntries {
			return fmt.Errorf("more than %d files", PackageLimits.MaxEntries)
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if int64(len(data)) > PackageLimits.MaxEntrySize {
			return fmt.Errorf("%s: %d bytes, the per-file limit is %d", p, len(data), PackageLimits.MaxEntrySize)
		}
		if total += int64(len(data)); total > PackageLimits.MaxTotal {
			return fmt.Errorf("more than %d bytes in total", PackageLimits.MaxTotal)
		}
		files[p] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("afps: read package folder: %w", err)
	}
	return files, nil
}

// ArchiveName is the download file name of a package version: "<scope>-<name>-<version>.afps".
func ArchiveName(id, version string) string {
	scope, name, ok := SplitName(id)
	if !ok {
		return strings.NewReplacer("@", "", "/", "-").Replace(id) + "-" + version + ".afps"
	}
	return scope + "-" + name + "-" + version + ".afps"
}
