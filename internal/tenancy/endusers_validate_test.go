package tenancy

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateMetadata(t *testing.T) {
	keys := func(n int) map[string]any {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprint("k", i)] = i
		}
		return m
	}
	tests := []struct {
		name string
		m    map[string]any
		want []string // "field code"
	}{
		{"nil", nil, nil},
		{"empty", map[string]any{}, nil},
		{"scalars", map[string]any{"s": "x", "f": 1.5, "b": true, "n": nil, "i": 3}, nil},
		{"empty key", map[string]any{"": "x"}, nil},
		{"50 keys", keys(50), nil},
		{"51 keys", keys(51), []string{"metadata out_of_range"}},
		{"40-char key", map[string]any{strings.Repeat("k", 40): 1}, nil},
		{"41-char key", map[string]any{strings.Repeat("k", 41): 1}, []string{"metadata." + strings.Repeat("k", 41) + " invalid_key"}},
		{"multibyte key of 40", map[string]any{strings.Repeat("é", 40): 1}, nil},
		{"500-char value", map[string]any{"k": strings.Repeat("é", 500)}, nil},
		{"501-char value", map[string]any{"k": strings.Repeat("v", 501)}, []string{"metadata.k out_of_range"}},
		{"object value", map[string]any{"k": map[string]any{}}, []string{"metadata.k invalid_type"}},
		{"array value", map[string]any{"k": []any{}}, []string{"metadata.k invalid_type"}},
		{"NaN", map[string]any{"k": math.NaN()}, []string{"metadata.k invalid_type"}},
		{"several, in key order", map[string]any{"b": []any{}, "a": strings.Repeat("v", 501)}, []string{"metadata.a out_of_range", "metadata.b invalid_type"}},
	}
	for _, tc := range tests {
		var got []string
		for _, v := range ValidateMetadata(tc.m) {
			got = append(got, v.Field+" "+v.Code)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidEndUserEmail(t *testing.T) {
	for email, want := range map[string]bool{
		"ada@example.com":               true,
		"Ada.Lovelace+x@Example.IO":     true,
		"o'brien@sub-domain.example.co": true,
		"a_b-c@x.example.org":           true,
		"":                              false,
		"ada":                           false,
		"ada@":                          false,
		"@example.com":                  false,
		"ada@localhost":                 false,
		"ada@example.c":                 false,
		".ada@example.com":              false,
		"ada.@example.com":              false,
		"ad..a@example.com":             false,
		"ada@-example.com":              false,
		"Ada <ada@example.com>":         false,
		"ada@exa mple.com":              false,
		"ada@example.com\n":             false,
		"adé@example.com":               false,
	} {
		if got := validEndUserEmail(email); got != want {
			t.Errorf("validEndUserEmail(%q) = %v", email, got)
		}
	}
}

// FuzzValidateMetadata checks ValidateMetadata against an independent statement of the rules, on any JSON
// document the API could receive as `metadata`.
func FuzzValidateMetadata(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x","c":true,"d":null}`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"":"x"}`,
		`{"` + strings.Repeat("k", 41) + `":1}`, `{"k":"` + strings.Repeat("v", 501) + `"}`, `{"k":1e308}`, `{"k":-0}`,
		`{"\u00e9":"\ud83d\ude00"}`, `[]`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var m map[string]any
		if json.Unmarshal(doc, &m) != nil {
			return
		}
		violations := ValidateMetadata(m)
		valid := len(m) <= MetadataMaxKeys
		for k, v := range m {
			if utf8.RuneCountInString(k) > MetadataKeyMax {
				valid = false
				continue
			}
			switch v := v.(type) {
			case nil, bool, float64:
			case string:
				valid = valid && utf8.RuneCountInString(v) <= MetadataStringMax
			default:
				valid = false
			}
		}
		if valid != (len(violations) == 0) {
			t.Fatalf("%s: valid=%v but violations %v", doc, valid, violations)
		}
		for _, v := range violations {
			if v.Field != "metadata" && !strings.HasPrefix(v.Field, "metadata.") || v.Code == "" || v.Message == "" {
				t.Fatalf("malformed violation %+v", v)
			}
		}
	})
}

// FuzzValidEndUserEmail: accepted addresses have exactly the shape local@domain.tld the rules describe.
func FuzzValidEndUserEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "a..b@x.io", ".a@x.io", "a@b", "a@b.c", "Ada <a@b.io>", "a@b.io\n", "\xff@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validEndUserEmail(s) {
			return
		}
		local, domain, ok := strings.Cut(s, "@")
		if !ok || local == "" || strings.Contains(domain, "@") || strings.HasPrefix(s, ".") || strings.Contains(s, "..") ||
			!strings.Contains(domain, ".") || strings.ContainsAny(s, " \t\r\n<>") || !utf8.ValidString(s) {
			t.Fatalf("accepted %q", s)
		}
		tld := domain[strings.LastIndex(domain, ".")+1:]
		if len(tld) < 2 {
			t.Fatalf("accepted %q with TLD %q", s, tld)
		}
	})
}
