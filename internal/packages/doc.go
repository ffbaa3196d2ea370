// Package packages is the per-organization AFPS registry: package drafts, immutable versions and their
// archives, dist-tags, imports, forks, the system packages embedded in the binary, and per-application
// installation with agent settings. The format itself (manifests, archives, semver) lives in internal/afps.
package packages
