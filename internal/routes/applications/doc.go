// Package applications serves the applications of an organization (/api/applications[/{id}]). Permissions
// come from the RBAC matrix; an API key only reaches its own application and never creates one.
package applications
