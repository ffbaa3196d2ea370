package uploads

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func TestParseURI(t *testing.T) {
	id := "upl_6f1c2a44-5b7e-4d4a-9a55-0a4f3c2b1d00"
	if got, err := ParseURI("upload://" + id); err != nil || got != id {
		t.Fatalf("ParseURI = %q, %v", got, err)
	}
	if URI(id) != "upload://"+id {
		t.Fatalf("URI = %q", URI(id))
	}
	for _, bad := range []string{"", id, "upload://", "upload://upl_x", "https://" + id, "upload://" + id + "/x",
		"UPLOAD://" + id, "upload://run_6f1c2a44-5b7e-4d4a-9a55-0a4f3c2b1d00"} {
		if _, err := ParseURI(bad); !errors.Is(err, ErrInvalidURI) {
			t.Errorf("ParseURI(%q) = %v, want ErrInvalidURI", bad, err)
		}
	}
}

func TestDocumentName(t *testing.T) {
	long := strings.Repeat("é", 200) + ".pdf"
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\notes.txt`, "notes.txt"},
		{".bashrc", "bashrc"},
		{"...", "document"},
		{"", "document"},
		{"/", "document"},
		{"a\x00b\nc.txt", "a_b_c.txt"},
		{`what?<>|*.csv`, "what_____.csv"},
		{"  spaced name .md  ", "spaced name .md"},
		{"bad\xffutf8.txt", "bad_utf8.txt"},
	}
	for _, tc := range tests {
		if got := DocumentName(tc.in); got != tc.want {
			t.Errorf("DocumentName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := DocumentName(long)
	if len(got) > 255 || !strings.HasSuffix(got, ".pdf") || !utf8.ValidString(got) {
		t.Errorf("DocumentName(long) = %q (%d bytes)", got, len(got))
	}
}

func TestDocumentNames(t *testing.T) {
	got := DocumentNames([]File{{Name: "a.pdf"}, {Name: "A.pdf"}, {Name: "dir/a.pdf"}, {Name: "b"}, {Name: "b"}})
	want := []string{"a.pdf", "A (2).pdf", "a (3).pdf", "b", "b (2)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("DocumentNames = %q, want %q", got, want)
	}
}

func TestAccepts(t *testing.T) {
	pdf := File{Name: "Report.PDF", MIME: "application/pdf", Size: 1000}
	png := File{Name: "x.png", MIME: "image/png", Size: 10}
	tests := []struct {
		f       File
		accept  string
		maxSize int64
		want    bool
	}{
		{pdf, "", 0, true},
		{pdf, ".pdf,.docx", 0, true},
		{pdf, ".docx", 0, false},
		{pdf, "application/pdf", 0, true},
		{pdf, " image/* , application/pdf ", 0, true},
		{png, "image/*", 0, true},
		{pdf, "image/*", 0, false},
		{pdf, "*/*", 0, true},
		{pdf, "", 999, false},
		{pdf, ".pdf", 1000, true},
	}
	for _, tc := range tests {
		if got := Accepts(tc.f, tc.accept, tc.maxSize); got != tc.want {
			t.Errorf("Accepts(%s, %q, %d) = %v, want %v", tc.f.Name, tc.accept, tc.maxSize, got, tc.want)
		}
	}
}

func TestCappedReader(t *testing.T) {
	tests := []struct {
		name     string
		body     io.Reader
		limit    int64
		want     string
		tooLarge bool
		readErr  bool
	}{
		{"under", strings.NewReader("abc"), 5, "abc", false, false},
		{"exact", strings.NewReader("abcde"), 5, "abcde", false, false},
		{"exact in one-byte reads", iotest.OneByteReader(strings.NewReader("abcde")), 5, "abcde", false, false},
		{"one over", strings.NewReader("abcdef"), 5, "", true, false},
		{"far over", strings.NewReader(strings.Repeat("x", 1<<20)), 5, "", true, false},
		{"client error", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(errors.New("reset"))), 5, "", false, true},
	}
	for _, tc := range tests {
		c := &cappedReader{r: tc.body, left: tc.limit}
		b, _ := io.ReadAll(c)
		if c.tooLarge != tc.tooLarge || (c.readErr != nil) != tc.readErr {
			t.Errorf("%s: tooLarge=%v readErr=%v", tc.name, c.tooLarge, c.readErr)
		}
		if !tc.tooLarge && !tc.readErr && string(b) != tc.want {
			t.Errorf("%s: read %q, want %q", tc.name, b, tc.want)
		}
		if int64(len(b)) > tc.limit {
			t.Errorf("%s: read %d bytes past the limit %d", tc.name, len(b), tc.limit)
		}
	}
}

func TestFSObjects(t *testing.T) {
	ctx := context.Background()
	s := NewFSObjects(filepath.Join(t.TempDir(), "uploads"))
	n, err := s.Write(ctx, "org/app_1/upl_1/attempt", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	info, err := os.Stat(filepath.Join(s.Root, "org", "app_1", "upl_1", "attempt"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", info, err)
	}
	obj, err := s.Open(ctx, "org/app_1/upl_1/attempt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj)
	obj.Close()
	if string(b) != "hello" || obj.Size() != 5 {
		t.Fatalf("read %q size %d", b, obj.Size())
	}
	// A failed write leaves nothing behind, not even a partial file.
	_, err = s.Write(ctx, "org/app_1/upl_1/failed", io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errors.New("reset"))))
	if err == nil {
		t.Fatal("write of a failing reader succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root, "org", "app_1", "upl_1"))
	if len(entries) != 1 {
		t.Fatalf("entries after a failed write: %v", entries)
	}
	if err := s.Delete(ctx, "org/app_1/upl_1/attempt"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "org/app_1/upl_1/attempt"); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("Open after delete: %v", err)
	}
	if err := s.Delete(ctx, "org/app_1/upl_1/attempt"); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
	for _, key := range []string{"", "../x", "a/../b", "/abs", "a//b", "a/./b", "a\\b", "a b", "a/b\x00"} {
		if _, err := s.Write(ctx, key, bytes.NewReader(nil)); err == nil {
			t.Errorf("Write(%q) accepted", key)
		}
	}
}

func FuzzDocumentName(f *testing.F) {
	for _, s := range []string{"report.pdf", "../../x", "a/b\\c", "", "...", strings.Repeat("é", 300) + ".txt", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := DocumentName(name)
		if got == "" || len(got) > 255 || strings.ContainsAny(got, "/\\\x00") || strings.HasPrefix(got, ".") ||
			!utf8.ValidString(got) || got != DocumentName(got) {
			t.Fatalf("DocumentName(%q) = %q", name, got)
		}
	})
}
