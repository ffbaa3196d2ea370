package providers

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCleanProfileName: a cleaned name is trimmed, 1..100 characters, and cleaning is idempotent.
func FuzzCleanProfileName(f *testing.F) {
	for _, s := range []string{"Default", "  Work  ", "", " ", "\t\n", strings.Repeat("é", 100), strings.Repeat("x", 101), "\xff\xfe", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := CleanProfileName(name)
		if err != nil {
			if err != ErrProfileName {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if got == "" || got != strings.TrimSpace(got) || utf8.RuneCountInString(got) > MaxProfileName {
			t.Fatalf("CleanProfileName(%q) = %q", name, got)
		}
		if again, err := CleanProfileName(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
		}
	})
}
