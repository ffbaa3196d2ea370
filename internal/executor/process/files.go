package process

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// WriteFiles writes files (slash-separated relative paths) under root, refusing any path that would leave it.
func WriteFiles(root string, files map[string][]byte) error {
	for name, data := range files {
		rel, err := safeRel(name)
		if err != nil {
			return err
		}
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("create directory of %s: %w", name, err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func safeRel(name string) (string, error) {
	clean := path.Clean(name)
	if name == "" || strings.HasPrefix(name, "/") || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") ||
		strings.ContainsRune(name, 0) || strings.Contains(name, "\\") {
		return "", fmt.Errorf("workspace file %q: path must be relative and stay inside the workspace", name)
	}
	return filepath.FromSlash(clean), nil
}
