// Package afps is the AFPS 1.x package format (PACKAGES.md §1): manifest types and validation for the four
// package types, SKILL.md frontmatter, a ZIP reader that is safe on untrusted input, a deterministic writer,
// SHA-256 SRI integrity, and the multi-package `.afps-bundle` with dependency resolution. It is pure: no
// database, no network, no clock. Versions and ranges live in the semver sub-package.
package afps
