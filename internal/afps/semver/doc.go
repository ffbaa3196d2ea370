// Package semver implements SemVer 2.0 versions and node-semver ranges (caret, tilde, x-ranges, hyphen ranges,
// `||`, comparators, and node-semver's prerelease exclusion rule) with the same results as node-semver's
// non-loose mode, plus the AFPS version policy built on them: the forward-only publishing planner, the
// auto-managed `latest` dist-tag, dist-tag names, version query resolution and tag re-pointing on delete.
package semver
