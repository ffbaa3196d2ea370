package credentials

import (
	"regexp"
	"sort"
	"strings"
)

// placeholderRE is `{{ name }}` with \w+ names and optional inner whitespace (PACKAGES.md §4.1).
var placeholderRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// urlPlaceholderRE also accepts the percent-encoded forms url.URL produces (`%7B%7B name %7D%7D`, `%20`).
var urlPlaceholderRE = regexp.MustCompile(`(?i)(?:\{|%7B)(?:\{|%7B)(?:\s|%20)*(\w+)(?:\s|%20)*(?:\}|%7D)(?:\}|%7D)`)

// Substitute replaces every `{{field}}` of s by creds[field], in one pass (a value that itself looks like a
// placeholder is not expanded again), and returns the names that have no value, sorted and unique; their
// placeholders are left intact. Only the fields of creds are ever used.
func Substitute(s string, creds map[string]string) (string, []string) {
	return substitute(placeholderRE, s, creds, func(v string) string { return v })
}

// HasPlaceholders reports whether s contains a `{{field}}` placeholder.
func HasPlaceholders(s string) bool { return placeholderRE.MatchString(s) }

func substitute(re *regexp.Regexp, s string, creds map[string]string, escape func(string) string) (string, []string) {
	if !strings.Contains(s, "{{") && !strings.Contains(strings.ToUpper(s), "%7B") {
		return s, nil
	}
	missing := map[string]bool{}
	out := re.ReplaceAllStringFunc(s, func(m string) string {
		name := re.FindStringSubmatch(m)[1]
		v, ok := creds[name]
		if !ok {
			missing[name] = true
			return m
		}
		return escape(v)
	})
	return out, sortedKeys(missing)
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// render substitutes a template and reports whether every referenced field had a non-empty value (the
// transform rule: a missing field makes the transform fall through).
func render(template string, creds map[string]string) (string, bool) {
	complete := true
	out := placeholderRE.ReplaceAllStringFunc(template, func(m string) string {
		v := creds[placeholderRE.FindStringSubmatch(m)[1]]
		if v == "" {
			complete = false
		}
		return v
	})
	return out, complete
}
