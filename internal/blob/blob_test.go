package blob

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFSRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := NewFS(t.TempDir())
	if err := s.Put(ctx, "agent-packages", "@acme/x/1.2.0.afps", []byte("zip")); err != nil {
		t.Fatal(err)
	}
	b, err := s.Get(ctx, "agent-packages", "@acme/x/1.2.0.afps")
	if err != nil || string(b) != "zip" {
		t.Fatalf("get: %q %v", b, err)
	}
	if ok, _ := s.Exists(ctx, "agent-packages", "@acme/x/1.2.0.afps"); !ok {
		t.Fatal("exists")
	}
	info, _ := os.Stat(filepath.Join(s.Root, "agent-packages", "@acme", "x", "1.2.0.afps"))
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", info.Mode().Perm())
	}
	if err := s.Delete(ctx, "agent-packages", "@acme/x/1.2.0.afps"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "agent-packages", "@acme/x/1.2.0.afps"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, "agent-packages", "missing"); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestFSRefusesEscapingKeys(t *testing.T) {
	s := NewFS(t.TempDir())
	for _, key := range []string{"../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b", "a\x00"} {
		if err := s.Put(context.Background(), "b", key, nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if err := s.Put(context.Background(), "..", "x", nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("bucket .. accepted")
	}
}

func FuzzValidKey(f *testing.F) {
	for _, seed := range []string{"@acme/x/1.0.0.afps", "../x", "a/b/../c", "_system/tools/@appstrate/log.afps"} {
		f.Add(seed)
	}
	root := f.TempDir()
	f.Fuzz(func(t *testing.T, key string) {
		s := NewFS(root)
		p, err := s.path("bucket", key)
		if err != nil {
			return
		}
		rel, err := filepath.Rel(filepath.Join(root, "bucket"), p)
		if err != nil || rel == ".." || filepath.IsAbs(rel) || strings.HasPrefix(rel, "../") {
			t.Fatalf("key %q escapes the bucket: %s", key, p)
		}
	})
}
