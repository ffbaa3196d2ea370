package semver

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidRange is returned (wrapped) by ParseRange for anything node-semver's validRange() rejects.
var ErrInvalidRange = errors.New("invalid semver range")

// Range is a parsed node-semver range: a disjunction (`||`) of comparator sets, each a conjunction.
type Range struct {
	set [][]comparator
}

type comparator struct {
	op  string // "", ">", ">=", "<", "<="
	v   Version
	any bool
}

func (c comparator) value() string {
	if c.any {
		return ""
	}
	return c.op + c.v.String()
}

func (c comparator) isNullSet() bool { return c.value() == "<0.0.0-0" }

func (c comparator) test(v Version) bool {
	if c.any {
		return true
	}
	cmp := v.Compare(c.v)
	switch c.op {
	case "":
		return cmp == 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	}
	return false
}

// ParseRange parses a range exactly like node-semver's `new Range(s)` (non-loose, prereleases excluded).
// The empty string is the any-version range, like "*".
func ParseRange(s string) (*Range, error) {
	raw := reSpaces.ReplaceAllString(strings.TrimSpace(s), " ")
	var set [][]comparator
	for _, part := range strings.Split(raw, "||") {
		comps, err := parseComparatorSet(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidRange, s, err)
		}
		set = append(set, comps)
	}
	if len(set) > 1 {
		first := set[0]
		kept := set[:0:0]
		for _, c := range set {
			if !c[0].isNullSet() {
				kept = append(kept, c)
			}
		}
		set = kept
		if len(set) == 0 {
			set = [][]comparator{first}
		} else if len(set) > 1 {
			for _, c := range set {
				if len(c) == 1 && c[0].any {
					set = [][]comparator{c}
					break
				}
			}
		}
	}
	return &Range{set: set}, nil
}

func parseComparatorSet(r string) ([]comparator, error) {
	if m := reHyphenRange.FindStringSubmatch(r); m != nil {
		r = hyphenReplace(m)
	}
	r = reComparatorTrim.ReplaceAllString(r, "${1}${2}${3}")
	r = reTildeTrim.ReplaceAllString(r, "${1}~")
	r = reCaretTrim.ReplaceAllString(r, "${1}^")

	parts := strings.Split(r, " ")
	for i, p := range parts {
		parts[i] = parseComparator(p)
	}
	list := reSpaces.Split(strings.Join(parts, " "), -1)

	var comps []comparator
	seen := map[string]int{}
	for _, s := range list {
		if reGTE0.MatchString(s) {
			s = ""
		}
		c, err := newComparator(s)
		if err != nil {
			return nil, err
		}
		if c.isNullSet() {
			return []comparator{c}, nil
		}
		if i, ok := seen[c.value()]; ok {
			comps[i] = c
			continue
		}
		seen[c.value()] = len(comps)
		comps = append(comps, c)
	}
	if len(comps) > 1 {
		if i, ok := seen[""]; ok {
			comps = append(comps[:i], comps[i+1:]...)
		}
	}
	return comps, nil
}

func newComparator(s string) (comparator, error) {
	m := reComparator.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return comparator{}, fmt.Errorf("invalid comparator %q", s)
	}
	if m[2] == "" {
		return comparator{any: true}, nil
	}
	v, err := Parse(m[2])
	if err != nil {
		return comparator{}, fmt.Errorf("invalid comparator %q", s)
	}
	op := m[1]
	if op == "=" {
		op = ""
	}
	return comparator{op: op, v: v}, nil
}

func isX(id string) bool { return id == "" || id == "x" || id == "X" || id == "*" }

// plusOne is JavaScript's `+id + 1` for a numeric identifier; an out-of-range result stays out of range so the
// comparator built from it is rejected, as node-semver's SemVer constructor does.
func plusOne(id string) string {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n >= maxSafeInteger {
		return "99999999999999999999"
	}
	return strconv.FormatUint(n+1, 10)
}

// hyphenReplace: 1.2 - 3.4.5 => >=1.2.0 <=3.4.5; 1.2.3 - 3.4 => >=1.2.3 <3.5.0-0.
func hyphenReplace(m []string) string {
	from, fM, fm, fp, fpr := m[1], m[2], m[3], m[4], m[5]
	to, tM, tm, tp, tpr := m[7], m[8], m[9], m[10], m[11]
	switch {
	case isX(fM):
		from = ""
	case isX(fm):
		from = ">=" + fM + ".0.0"
	case isX(fp):
		from = ">=" + fM + "." + fm + ".0"
	case fpr != "":
		from = ">=" + from
	default:
		from = ">=" + from
	}
	switch {
	case isX(tM):
		to = ""
	case isX(tm):
		to = "<" + plusOne(tM) + ".0.0-0"
	case isX(tp):
		to = "<" + tM + "." + plusOne(tm) + ".0-0"
	case tpr != "":
		to = "<=" + tM + "." + tm + "." + tp + "-" + tpr
	default:
		to = "<=" + to
	}
	return strings.TrimSpace(from + " " + to)
}

func parseComparator(comp string) string {
	comp = mapFields(comp, replaceCaret)
	comp = mapFields(comp, replaceTilde)
	comp = mapFields(comp, replaceXRange)
	comp = strings.TrimSpace(comp)
	if loc := reStar.FindStringIndex(comp); loc != nil {
		comp = comp[:loc[0]] + comp[loc[1]:]
	}
	return comp
}

// mapFields is JavaScript's `comp.trim().split(/\s+/).map(f).join(' ')`.
func mapFields(comp string, f func(string) string) string {
	parts := reSpaces.Split(strings.TrimSpace(comp), -1)
	for i, p := range parts {
		parts[i] = f(p)
	}
	return strings.Join(parts, " ")
}

// replaceTilde: ~1.2.3 := >=1.2.3 <1.3.0-0; ~1.2 := >=1.2.0 <1.3.0-0; ~1 := >=1.0.0 <2.0.0-0.
func replaceTilde(comp string) string {
	m := reTilde.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	M, mi, p, pr := m[1], m[2], m[3], m[4]
	switch {
	case isX(M):
		return ""
	case isX(mi):
		return ">=" + M + ".0.0 <" + plusOne(M) + ".0.0-0"
	case isX(p):
		return ">=" + M + "." + mi + ".0 <" + M + "." + plusOne(mi) + ".0-0"
	case pr != "":
		return ">=" + M + "." + mi + "." + p + "-" + pr + " <" + M + "." + plusOne(mi) + ".0-0"
	default:
		return ">=" + M + "." + mi + "." + p + " <" + M + "." + plusOne(mi) + ".0-0"
	}
}

// replaceCaret: ^1.2.3 := >=1.2.3 <2.0.0-0; ^0.2.3 := >=0.2.3 <0.3.0-0; ^0.0.3 := >=0.0.3 <0.0.4-0.
func replaceCaret(comp string) string {
	m := reCaret.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	M, mi, p, pr := m[1], m[2], m[3], m[4]
	switch {
	case isX(M):
		return ""
	case isX(mi):
		return ">=" + M + ".0.0 <" + plusOne(M) + ".0.0-0"
	case isX(p):
		if M == "0" {
			return ">=" + M + "." + mi + ".0 <" + M + "." + plusOne(mi) + ".0-0"
		}
		return ">=" + M + "." + mi + ".0 <" + plusOne(M) + ".0.0-0"
	}
	lower := ">=" + M + "." + mi + "." + p
	if pr != "" {
		lower += "-" + pr
	}
	switch {
	case M == "0" && mi == "0":
		return lower + " <" + M + "." + mi + "." + plusOne(p) + "-0"
	case M == "0":
		return lower + " <" + M + "." + plusOne(mi) + ".0-0"
	default:
		return lower + " <" + plusOne(M) + ".0.0-0"
	}
}

// replaceXRange: 1.x := >=1.0.0 <2.0.0-0; >1.2 := >=1.3.0; <=1.2 := <1.3.0-0; * := any.
func replaceXRange(comp string) string {
	comp = strings.TrimSpace(comp)
	m := reXRange.FindStringSubmatch(comp)
	if m == nil {
		return comp
	}
	gtlt, M, mi, p := m[1], m[2], m[3], m[4]
	xM := isX(M)
	xm := xM || isX(mi)
	xp := xm || isX(p)
	anyX := xp
	if gtlt == "=" && anyX {
		gtlt = ""
	}
	switch {
	case xM:
		if gtlt == ">" || gtlt == "<" {
			return "<0.0.0-0"
		}
		return "*"
	case gtlt != "" && anyX:
		if xm {
			mi = "0"
		}
		p = "0"
		switch gtlt {
		case ">":
			gtlt = ">="
			if xm {
				M, mi, p = plusOne(M), "0", "0"
			} else {
				mi, p = plusOne(mi), "0"
			}
		case "<=":
			gtlt = "<"
			if xm {
				M = plusOne(M)
			} else {
				mi = plusOne(mi)
			}
		}
		pr := ""
		if gtlt == "<" {
			pr = "-0"
		}
		return gtlt + M + "." + mi + "." + p + pr
	case xm:
		return ">=" + M + ".0.0 <" + plusOne(M) + ".0.0-0"
	case xp:
		return ">=" + M + "." + mi + ".0 <" + M + "." + plusOne(mi) + ".0-0"
	}
	return comp
}

// String is node-semver's `validRange` form: comparator sets joined by "||", "*" for the any range.
func (r *Range) String() string {
	sets := make([]string, len(r.set))
	for i, cs := range r.set {
		vals := make([]string, len(cs))
		for j, c := range cs {
			vals[j] = c.value()
		}
		sets[i] = strings.TrimSpace(strings.Join(vals, " "))
	}
	s := strings.Join(sets, "||")
	if s == "" {
		return "*"
	}
	return s
}

// Test reports whether v satisfies the range. A prerelease version only satisfies a comparator set that has a
// prerelease comparator on the same MAJOR.MINOR.PATCH tuple (node-semver's default).
func (r *Range) Test(v Version) bool {
	for _, cs := range r.set {
		if testSet(cs, v) {
			return true
		}
	}
	return false
}

func testSet(cs []comparator, v Version) bool {
	for _, c := range cs {
		if !c.test(v) {
			return false
		}
	}
	if !v.IsPrerelease() {
		return true
	}
	for _, c := range cs {
		if c.any || !c.v.IsPrerelease() {
			continue
		}
		if c.v.Major == v.Major && c.v.Minor == v.Minor && c.v.Patch == v.Patch {
			return true
		}
	}
	return false
}

// Satisfies reports whether the version string satisfies the range; invalid input satisfies nothing.
func (r *Range) Satisfies(version string) bool {
	v, err := Parse(version)
	return err == nil && r.Test(v)
}

// ValidRange returns node-semver's validRange(s): the normalised range, and false when s is not a range.
func ValidRange(s string) (string, bool) {
	r, err := ParseRange(s)
	if err != nil {
		return "", false
	}
	return r.String(), true
}

// Satisfies is node-semver's satisfies(version, range).
func Satisfies(version, rng string) bool {
	r, err := ParseRange(rng)
	return err == nil && r.Satisfies(version)
}

// MaxSatisfying is node-semver's maxSatisfying: the highest of versions satisfying rng, returned as given.
func MaxSatisfying(versions []string, rng string) (string, bool) {
	r, err := ParseRange(rng)
	if err != nil {
		return "", false
	}
	best, found := "", false
	var bestV Version
	for _, s := range versions {
		v, err := Parse(s)
		if err != nil || !r.Test(v) {
			continue
		}
		if !found || bestV.Compare(v) < 0 {
			best, bestV, found = s, v, true
		}
	}
	return best, found
}
