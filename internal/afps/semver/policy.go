package semver

import (
	"regexp"
	"slices"
)

// Outcome is the decision of the forward-only publishing planner.
type Outcome string

// Planner outcomes (PACKAGES.md §1.3). The last two come with a *PolicyError.
const (
	OutcomeInsert           Outcome = "insert"             // a new, strictly higher version: insert it
	OutcomeExists           Outcome = "exists"             // the exact version already exists: return it (idempotent)
	OutcomeVersionNotHigher Outcome = "VERSION_NOT_HIGHER" // not strictly greater than the highest existing version
	OutcomeVersionInvalid   Outcome = "VERSION_INVALID"    // not a valid semver version
)

// PolicyError is the error of a refused publication; Code is the outcome callers branch on.
type PolicyError struct {
	Code    Outcome
	Message string
}

func (e *PolicyError) Error() string { return string(e.Code) + ": " + e.Message }

// PlanCreateVersion is upstream's planCreateVersionOutcome. existing holds every version of the package,
// yanked ones included; invalid existing strings are ignored when looking for the highest. Presence is checked
// on the exact string, order on semver precedence. Callers run it under the per-package lock.
func PlanCreateVersion(existing []string, candidate string) (Outcome, error) {
	cv, err := Parse(candidate)
	if err != nil {
		return OutcomeVersionInvalid, &PolicyError{Code: OutcomeVersionInvalid, Message: "version " + quote(candidate) + " is not a valid semver version"}
	}
	if slices.Contains(existing, candidate) {
		return OutcomeExists, nil
	}
	highest, ok := Highest(existing)
	if hv, err := Parse(highest); ok && err == nil && cv.Compare(hv) <= 0 {
		return OutcomeVersionNotHigher, &PolicyError{
			Code:    OutcomeVersionNotHigher,
			Message: "version " + quote(candidate) + " must be higher than the latest existing version " + quote(highest),
		}
	}
	return OutcomeInsert, nil
}

func quote(s string) string { return `"` + s + `"` }

// Highest returns the highest valid version of the list (as given), and false when none is valid.
func Highest(versions []string) (string, bool) {
	best, found := "", false
	var bestV Version
	for _, s := range versions {
		v, err := Parse(s)
		if err != nil {
			continue
		}
		if !found || v.Compare(bestV) > 0 {
			best, bestV, found = s, v, true
		}
	}
	return best, found
}

// LatestTag is the auto-managed dist-tag.
const LatestTag = "latest"

var reDistTag = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)

// ValidDistTag reports whether name is a well-formed dist-tag name (`^[a-z][a-z0-9._-]*$`).
func ValidDistTag(name string) bool { return reDistTag.MatchString(name) }

// IsProtectedTag reports whether the tag is managed by the platform only (`latest`): it cannot be set or
// removed by hand.
func IsProtectedTag(name string) bool { return name == LatestTag }

// ShouldMoveLatest reports whether publishing candidate moves `latest`: candidate is not a prerelease and there
// is no current latest (current == "") or candidate >= current.
func ShouldMoveLatest(current, candidate string) bool {
	cv, err := Parse(candidate)
	if err != nil || cv.IsPrerelease() {
		return false
	}
	if current == "" {
		return true
	}
	lv, err := Parse(current)
	if err != nil {
		return true
	}
	return cv.Compare(lv) >= 0
}

// VersionInfo is what resolution needs to know about one stored version.
type VersionInfo struct {
	Version string
	Yanked  bool
}

// ResolveQuery is upstream's resolveVersionString, in order: an exact valid version that exists (yanked
// included); else a dist-tag name, unless its target is yanked or missing (then no fallback); else the highest
// non-yanked version satisfying the query as a range; else no match.
func ResolveQuery(query string, versions []VersionInfo, tags map[string]string) (string, bool) {
	if Valid(query) {
		for _, v := range versions {
			if v.Version == query {
				return v.Version, true
			}
		}
		// A valid version is also a valid (exact) range: fall through like upstream does.
	}
	if target, ok := tags[query]; ok {
		for _, v := range versions {
			if v.Version == target {
				if v.Yanked {
					return "", false
				}
				return v.Version, true
			}
		}
		return "", false
	}
	r, err := ParseRange(query)
	if err != nil {
		return "", false
	}
	best, found := "", false
	var bestV Version
	for _, v := range versions {
		if v.Yanked {
			continue
		}
		pv, err := Parse(v.Version)
		if err != nil || !r.Test(pv) {
			continue
		}
		if !found || pv.Compare(bestV) > 0 {
			best, bestV, found = v.Version, pv, true
		}
	}
	return best, found
}

// RepointTags computes the tag changes after a version is deleted: every tag pointing at deleted moves to the
// highest non-yanked, non-prerelease remaining version, or is removed when there is none. The result maps each
// affected tag to its new target, "" meaning "delete the tag". remaining excludes the deleted version.
func RepointTags(tags map[string]string, deleted string, remaining []VersionInfo) map[string]string {
	changes := map[string]string{}
	target := ""
	var targetV Version
	for _, v := range remaining {
		if v.Yanked || v.Version == deleted {
			continue
		}
		pv, err := Parse(v.Version)
		if err != nil || pv.IsPrerelease() {
			continue
		}
		if target == "" || pv.Compare(targetV) > 0 {
			target, targetV = v.Version, pv
		}
	}
	for tag, version := range tags {
		if version == deleted {
			changes[tag] = target
		}
	}
	return changes
}
