package launch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
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

// ValidRunID tells whether id can name a run directory: 1 to 128 of [A-Za-z0-9_-].
func ValidRunID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// RandomToken is 24 random bytes in hex (a sidecar token).
func RandomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WritePid records the pid of a role ("runner", "sidecar", …) in dir for Reap.
func WritePid(dir, role string, pid int) {
	_ = os.WriteFile(filepath.Join(dir, role+".pid"), []byte(strconv.Itoa(pid)), 0o600)
}

// ReadPid returns the pid WritePid recorded, 0 when there is none.
func ReadPid(dir, role string) int {
	b, err := os.ReadFile(filepath.Join(dir, role+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// CwdInside tells whether pid runs with its working directory inside dir: how Reap recognises the
// processes of a run, so a recycled pid of an unrelated process is never killed.
func CwdInside(pid int, dir string) bool {
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	return err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+string(filepath.Separator)))
}
