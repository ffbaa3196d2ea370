package semver

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MaxLength is node-semver's MAX_LENGTH: longer version strings are invalid.
const MaxLength = 256

// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER, the largest major/minor/patch node-semver accepts.
const maxSafeInteger = 1<<53 - 1

// ErrInvalidVersion is returned (wrapped) by Parse for anything node-semver's valid() rejects.
var ErrInvalidVersion = errors.New("invalid semver version")

// Version is a parsed SemVer 2.0 version.
type Version struct {
	Major, Minor, Patch uint64
	// Prerelease holds the dot-separated prerelease identifiers (nil for a release).
	Prerelease []string
	// Build holds the build metadata identifiers; they never take part in comparisons.
	Build []string
}

// Regular expression sources, ported from node-semver's internal/re.js (non-loose tokens only, plus the loose
// plain form that COMPARATORTRIM uses).
const (
	srcNumericIdentifier      = `0|[1-9]\d*`
	srcNumericIdentifierLoose = `\d+`
	srcNonNumericIdentifier   = `\d*[a-zA-Z-][a-zA-Z0-9-]*`
	srcMainVersion            = `(` + srcNumericIdentifier + `)\.(` + srcNumericIdentifier + `)\.(` + srcNumericIdentifier + `)`
	srcMainVersionLoose       = `(` + srcNumericIdentifierLoose + `)\.(` + srcNumericIdentifierLoose + `)\.(` + srcNumericIdentifierLoose + `)`
	srcPrereleaseIdentifier   = `(?:` + srcNonNumericIdentifier + `|` + srcNumericIdentifier + `)`
	srcPrereleaseIdentLoose   = `(?:` + srcNonNumericIdentifier + `|` + srcNumericIdentifierLoose + `)`
	srcPrerelease             = `(?:-(` + srcPrereleaseIdentifier + `(?:\.` + srcPrereleaseIdentifier + `)*))`
	srcPrereleaseLoose        = `(?:-?(` + srcPrereleaseIdentLoose + `(?:\.` + srcPrereleaseIdentLoose + `)*))`
	srcBuildIdentifier        = `[0-9A-Za-z-]+`
	srcBuild                  = `(?:\+(` + srcBuildIdentifier + `(?:\.` + srcBuildIdentifier + `)*))`
	srcFullPlain              = `v?` + srcMainVersion + srcPrerelease + `?` + srcBuild + `?`
	srcLoosePlain             = `[v=\s]*` + srcMainVersionLoose + srcPrereleaseLoose + `?` + srcBuild + `?`
	srcGTLT                   = `((?:<|>)?=?)`
	srcXRangeIdentifier       = srcNumericIdentifier + `|x|X|\*`
	srcXRangePlain            = `[v=\s]*(` + srcXRangeIdentifier + `)(?:\.(` + srcXRangeIdentifier + `)(?:\.(` + srcXRangeIdentifier + `)(?:` + srcPrerelease + `)?` + srcBuild + `?)?)?`
	srcLoneTilde              = `(?:~>?)`
	srcLoneCaret              = `(?:\^)`
)

var (
	reFull           = regexp.MustCompile(`^` + srcFullPlain + `$`)
	reXRange         = regexp.MustCompile(`^` + srcGTLT + `\s*` + srcXRangePlain + `$`)
	reTilde          = regexp.MustCompile(`^` + srcLoneTilde + srcXRangePlain + `$`)
	reCaret          = regexp.MustCompile(`^` + srcLoneCaret + srcXRangePlain + `$`)
	reTildeTrim      = regexp.MustCompile(`(\s*)` + srcLoneTilde + `\s+`)
	reCaretTrim      = regexp.MustCompile(`(\s*)` + srcLoneCaret + `\s+`)
	reComparator     = regexp.MustCompile(`^` + srcGTLT + `\s*(` + srcFullPlain + `)$|^$`)
	reComparatorTrim = regexp.MustCompile(`(\s*)` + srcGTLT + `\s*(` + srcLoosePlain + `|` + srcXRangePlain + `)`)
	reHyphenRange    = regexp.MustCompile(`^\s*(` + srcXRangePlain + `)\s+-\s+(` + srcXRangePlain + `)\s*$`)
	reStar           = regexp.MustCompile(`(<|>)?=?\s*\*`)
	reGTE0           = regexp.MustCompile(`^\s*>=\s*0\.0\.0\s*$`)
	reSpaces         = regexp.MustCompile(`\s+`)
	reAllDigits      = regexp.MustCompile(`^[0-9]+$`)
)

// Parse parses a version the way node-semver's `new SemVer(v)` does in strict mode: surrounding whitespace is
// trimmed and one leading "v" is allowed.
func Parse(s string) (Version, error) {
	if len(s) > MaxLength {
		return Version{}, fmt.Errorf("%w: longer than %d characters", ErrInvalidVersion, MaxLength)
	}
	m := reFull.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("%w: %q", ErrInvalidVersion, s)
	}
	var v Version
	var err error
	for i, dst := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if *dst, err = parseComponent(m[i+1]); err != nil {
			return Version{}, fmt.Errorf("%w: %q", ErrInvalidVersion, s)
		}
	}
	if m[4] != "" {
		v.Prerelease = strings.Split(m[4], ".")
	}
	if m[5] != "" {
		v.Build = strings.Split(m[5], ".")
	}
	return v, nil
}

func parseComponent(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxSafeInteger {
		return 0, ErrInvalidVersion
	}
	return n, nil
}

// MustParse is Parse for constants in tests and tables; it panics on an invalid version.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// Valid reports whether s is a valid version (node-semver `valid(s) !== null`).
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Normalize returns node-semver's `valid(s)`: the canonical form without a leading "v" and without build
// metadata, or "" when s is not a valid version.
func Normalize(s string) string {
	v, err := Parse(s)
	if err != nil {
		return ""
	}
	return v.String()
}

// String formats the version as node-semver's `version` property: MAJOR.MINOR.PATCH[-PRERELEASE] (build
// metadata is not part of it).
func (v Version) String() string {
	s := strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
	if len(v.Prerelease) > 0 {
		s += "-" + strings.Join(v.Prerelease, ".")
	}
	return s
}

// IsPrerelease reports whether the version has prerelease identifiers.
func (v Version) IsPrerelease() bool { return len(v.Prerelease) > 0 }

// Compare orders two versions by SemVer precedence: -1, 0 or +1. Build metadata is ignored.
func (v Version) Compare(o Version) int {
	if c := cmpUint(v.Major, o.Major); c != 0 {
		return c
	}
	if c := cmpUint(v.Minor, o.Minor); c != 0 {
		return c
	}
	if c := cmpUint(v.Patch, o.Patch); c != 0 {
		return c
	}
	switch {
	case len(v.Prerelease) > 0 && len(o.Prerelease) == 0:
		return -1
	case len(v.Prerelease) == 0 && len(o.Prerelease) > 0:
		return 1
	}
	for i := 0; ; i++ {
		switch {
		case i >= len(v.Prerelease) && i >= len(o.Prerelease):
			return 0
		case i >= len(v.Prerelease):
			return -1
		case i >= len(o.Prerelease):
			return 1
		}
		if c := compareIdentifiers(v.Prerelease[i], o.Prerelease[i]); c != 0 {
			return c
		}
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareIdentifiers is node-semver's: numeric identifiers compare numerically and sort before alphanumeric
// ones, which compare as strings.
func compareIdentifiers(a, b string) int {
	an, bn := reAllDigits.MatchString(a), reAllDigits.MatchString(b)
	switch {
	case an && bn:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return cmpUint(uint64(len(a)), uint64(len(b)))
		}
		return strings.Compare(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// Compare parses and compares two version strings; ok is false when either is invalid.
func Compare(a, b string) (c int, ok bool) {
	va, err := Parse(a)
	if err != nil {
		return 0, false
	}
	vb, err := Parse(b)
	if err != nil {
		return 0, false
	}
	return va.Compare(vb), true
}

// IsPrerelease reports whether s is a valid version with prerelease identifiers.
func IsPrerelease(s string) bool {
	v, err := Parse(s)
	return err == nil && v.IsPrerelease()
}

// BumpPatch is node-semver's inc(v, "patch"): a release gets its patch incremented; a prerelease is released
// at its own patch (1.2.3-beta → 1.2.3).
func BumpPatch(s string) (string, error) {
	v, err := Parse(s)
	if err != nil {
		return "", err
	}
	if v.IsPrerelease() {
		v.Prerelease = nil
	} else {
		if v.Patch >= maxSafeInteger {
			return "", fmt.Errorf("%w: patch overflow in %q", ErrInvalidVersion, s)
		}
		v.Patch++
	}
	v.Build = nil
	return v.String(), nil
}

// CaretRange returns the range the platform writes for a dependency edit: "^" + v.
func CaretRange(v string) string { return "^" + v }
