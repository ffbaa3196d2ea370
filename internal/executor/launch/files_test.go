package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFiles(t *testing.T) {
	root := t.TempDir()
	if err := WriteFiles(root, map[string][]byte{"a.txt": []byte("a"), "docs/./b.txt": []byte("b"), "x/../c.txt": []byte("c")}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a.txt": "a", "docs/b.txt": "b", "c.txt": "c"} {
		if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "/etc/passwd", "a/../../x", "a\\b", "a\x00b"} {
		if err := WriteFiles(root, map[string][]byte{bad: nil}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestValidRunID(t *testing.T) {
	for id, want := range map[string]bool{"run_01J-x": true, "": false, "../x": false, "a/b": false, ".bin": false,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false} {
		if got := ValidRunID(id); got != want {
			t.Errorf("ValidRunID(%q) = %v", id, got)
		}
	}
}

// FuzzSafeRel: a workspace file name (from a package or an upload) that is accepted always lands inside the
// workspace.
func FuzzSafeRel(f *testing.F) {
	for _, s := range []string{"a.txt", "docs/b.txt", "../x", "/abs", "a/../../b", "a//b", ".", "a/./b/..", "\\x"} {
		f.Add(s)
	}
	root := "/work/space"
	f.Fuzz(func(t *testing.T, name string) {
		rel, err := safeRel(name)
		if err != nil {
			return
		}
		p := filepath.Join(root, rel)
		if !strings.HasPrefix(p, root+"/") {
			t.Fatalf("%q → %q leaves the workspace", name, p)
		}
	})
}
