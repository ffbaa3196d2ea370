// Package orgs serves organizations, their members, invitations and settings (/api/orgs/*) and
// GET /api/me/orgs. These routes check the caller's organization role directly rather than the permission
// matrix; API keys only reach their own organization, read-only.
package orgs
