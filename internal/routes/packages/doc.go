// Package packages serves the package registry routes (API.md §4.7, PACKAGES.md §2.3–§2.6): per-type CRUD of
// drafts under /api/packages/<agents|skills|tools|providers>, versions (publish, restore, delete, yank),
// dist-tags, fork, archive / bundle / GitHub import and version download. Rules and SQL live in
// packages.Registry.
package packages
