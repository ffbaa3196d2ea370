package oidc

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"stored form", "BCDFGHJK", "BCDFGHJK", true},
		{"displayed form", "BCDF-GHJK", "BCDFGHJK", true},
		{"lower case", "bcdf-ghjk", "BCDFGHJK", true},
		{"surrounding spaces", "  bcdf-ghjk\t", "BCDFGHJK", true},
		{"several dashes", "B-C-D-F-G-H-J-K", "BCDFGHJK", true},
		{"vowel", "ABCDFGHJ", "", false},
		{"digit", "BCDF1HJK", "", false},
		{"too short", "BCDF-GHJ", "", false},
		{"too long", "BCDF-GHJKL", "", false},
		{"inner space", "BCDF GHJK", "", false},
		{"empty", "", "", false},
		{"unicode long s is not an S", "BCDFGHJſ", "", false},
		{"huge", strings.Repeat("-", 100) + "BCDFGHJK", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeUserCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNewUserCode(t *testing.T) {
	seen := map[byte]int{}
	for range 2000 {
		c := NewUserCode()
		n, ok := NormalizeUserCode(c)
		if !ok || n != c {
			t.Fatalf("NewUserCode() = %q is not a normalized code", c)
		}
		if got, ok := NormalizeUserCode(FormatUserCode(c)); !ok || got != c {
			t.Fatalf("FormatUserCode(%q) = %q does not normalize back", c, FormatUserCode(c))
		}
		for i := 0; i < len(c); i++ {
			seen[c[i]]++
		}
	}
	if len(seen) != len(UserCodeAlphabet) {
		t.Fatalf("16000 letters used %d of the %d letters of the alphabet", len(seen), len(UserCodeAlphabet))
	}
}

func TestFormatUserCode(t *testing.T) {
	if got := FormatUserCode("BCDFGHJK"); got != "BCDF-GHJK" {
		t.Fatalf("FormatUserCode = %q", got)
	}
	if got := FormatUserCode("odd"); got != "odd" {
		t.Fatalf("FormatUserCode(odd) = %q", got)
	}
}

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdfghjk", " b-c-d-f-g-h-j-k ", "AAAA-AAAA", "ſſſſſſſſ", "", "----", "BCDF\x00GHJK"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, ok := NormalizeUserCode(in)
		if !ok {
			if code != "" {
				t.Fatalf("refused input returned %q", code)
			}
			return
		}
		if len(code) != UserCodeLength {
			t.Fatalf("NormalizeUserCode(%q) = %q: wrong length", in, code)
		}
		for i := 0; i < len(code); i++ {
			if !strings.ContainsRune(UserCodeAlphabet, rune(code[i])) {
				t.Fatalf("NormalizeUserCode(%q) = %q: letter outside the alphabet", in, code)
			}
		}
		if again, ok := NormalizeUserCode(code); !ok || again != code {
			t.Fatalf("not idempotent: %q → %q → %q", in, code, again)
		}
		if again, ok := NormalizeUserCode(FormatUserCode(code)); !ok || again != code {
			t.Fatalf("display form does not round-trip: %q", code)
		}
		if !strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(in), "-", ""), code) {
			t.Fatalf("NormalizeUserCode(%q) = %q is not the input without dashes, upper-cased", in, code)
		}
	})
}
