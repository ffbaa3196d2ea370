package tenancy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSlugify(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"lowercase", "Acme", "acme"},
		{"spaces become dashes", "Acme Corp", "acme-corp"},
		{"accents folded", "Café Crème", "cafe-creme"},
		{"more accents", "Ålborg Øst Ñandú Ærø", "alborg-st-nandu-r"},
		{"compatibility forms folded", "ﬁnance ①", "finance-1"},
		{"runs collapse", "a -- b __ c", "a-b-c"},
		{"trimmed", "  --Acme!!  ", "acme"},
		{"digits kept", "Team 42", "team-42"},
		{"non-latin scripts dropped", "東京 Tokyo", "tokyo"},
		{"nothing left", "!!!", "org"},
		{"empty", "", "org"},
		{"only non-latin", "東京", "org"},
		{"emoji", "🚀 Launch", "launch"},
		{"50 characters kept", strings.Repeat("a", 50), strings.Repeat("a", 50)},
		{"truncated to 50", strings.Repeat("a", 60), strings.Repeat("a", 50)},
		{"no trailing dash after truncation", strings.Repeat("a", 49) + " bcd", strings.Repeat("a", 49)},
		{"turkish dotted I", "İstanbul", "istanbul"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Slugify(tc.in)
			if got != tc.want {
				t.Fatalf("Slugify(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !ValidSlug(got) {
				t.Fatalf("Slugify(%q) = %q is not a valid slug", tc.in, got)
			}
		})
	}
}

func TestValidSlug(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "acme": true, "acme-1": true, "a-b-c": true, "0": true, "a--b": true,
		"": false, "-a": false, "a-": false, "Acme": false, "a_b": false, "a b": false, "café": false, "a.b": false,
	} {
		if got := ValidSlug(s); got != want {
			t.Errorf("ValidSlug(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Acme", "Café Crème", "", "!!!", "--a--", strings.Repeat("é", 80), "İ", "\xff\xfe", "a\u0301b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := Slugify(name)
		if !ValidSlug(s) || len(s) > MaxSlugLength || !utf8.ValidString(s) {
			t.Fatalf("Slugify(%q) = %q", name, s)
		}
		if Slugify(s) != s {
			t.Fatalf("not idempotent: %q → %q → %q", name, s, Slugify(s))
		}
	})
}

func TestInvitationToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := NewInvitationToken()
		if !ValidInvitationToken(tok) || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("A", 64),
		strings.Repeat("g", 64), strings.Repeat("a", 62) + "-a", "../" + strings.Repeat("a", 61)} {
		if ValidInvitationToken(bad) {
			t.Errorf("ValidInvitationToken(%q) = true", bad)
		}
	}
}

func FuzzValidInvitationToken(f *testing.F) {
	f.Add(NewInvitationToken())
	f.Add(strings.Repeat("0", 64))
	f.Add("")
	f.Add(strings.Repeat("F", 64))
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidInvitationToken(s) {
			return
		}
		if len(s) != InvitationTokenLength || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("accepted %q", s)
		}
	})
}
