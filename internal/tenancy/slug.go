package tenancy

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxSlugLength bounds organization slugs derived from a name.
const MaxSlugLength = 50

// slugPattern is the shape of every organization slug: lowercase kebab case, no leading or trailing dash.
var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// ValidSlug reports whether s is an acceptable organization slug.
func ValidSlug(s string) bool { return slugPattern.MatchString(s) }

// Slugify derives the default slug of an organization from its name: accents folded, lowercase ASCII, every
// run of other characters replaced by one dash, dashes trimmed from both ends, at most MaxSlugLength
// characters; "org" when nothing is left. The result always satisfies ValidSlug.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		if unicode.Is(unicode.Mn, r) { // combining marks left by the decomposition: é → e + ◌́
			continue
		}
		r = unicode.ToLower(r)
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	s := b.String()
	if len(s) > MaxSlugLength {
		s = strings.TrimRight(s[:MaxSlugLength], "-")
	}
	if s == "" {
		return "org"
	}
	return s
}
