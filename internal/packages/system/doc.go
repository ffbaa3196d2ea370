// Package system holds the sources of the packages that ship with the platform (PACKAGES.md §3): one folder per
// package version, embedded in the binary. providers/<name>/ are the 60 provider definitions (manifest.json and
// PROVIDER.md; regenerate them with gen/), tools/<name>-<version>/ the runtime's system tools (manifest.json,
// tool.ts, the pre-bundled tool.js entrypoint, TOOL.md). Loading, packing and database sync live in
// internal/packages (systemload*.go); this package is only the data.
package system
