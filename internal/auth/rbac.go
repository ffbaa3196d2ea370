package auth

import (
	"slices"
	"sort"
	"strings"
)

// Role is an organization role (pg enum org_role upstream).
type Role string

// The four roles. Owner is only granted by creating an organization.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer}

// AssignableRoles are the roles invitations and role changes may grant.
var AssignableRoles = []Role{RoleAdmin, RoleMember, RoleViewer}

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Assignable reports whether r may be granted by an invitation or a role change.
func (r Role) Assignable() bool { return slices.Contains(AssignableRoles, r) }

// Permission is a "resource:action" string.
type Permission string

// resourceRule is one row of the RBAC matrix of API.md §2.6.
type resourceRule struct {
	resources []string
	actions   []string
	member    []string // actions granted to members ("*" = all)
	viewer    []string // actions granted to viewers
	grantable bool     // may be an API key scope
	adminOnly bool     // grantable only by owners/admins (credential-proxy, llm-proxy)
}

// matrix is the RBAC matrix, kept as data in this one place. Owner holds every permission; admin holds
// every permission but org:delete and members:change-role.
var matrix = []resourceRule{
	{resources: []string{"org"}, actions: []string{"read", "update", "delete"}, member: []string{"read"}, viewer: []string{"read"}},
	{resources: []string{"members"}, actions: []string{"read", "invite", "remove", "change-role"}, member: []string{"read"}, viewer: []string{"read"}},
	{resources: []string{"agents"}, actions: []string{"read", "write", "configure", "delete", "run"}, member: []string{"read", "run"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"skills", "tools", "providers"}, actions: []string{"read", "write", "delete"}, member: []string{"read"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"runs"}, actions: []string{"read", "cancel", "delete"}, member: []string{"read", "cancel"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"schedules"}, actions: []string{"read", "write", "delete"}, member: []string{"*"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"persistence"}, actions: []string{"read", "delete"}, member: []string{"read"}, viewer: []string{"read"}},
	{resources: []string{"connections"}, actions: []string{"read", "connect", "disconnect"}, member: []string{"*"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"profiles"}, actions: []string{"read", "write", "delete"}, member: []string{"*"}, viewer: []string{"read"}},
	{resources: []string{"app-profiles"}, actions: []string{"read", "write", "delete", "bind"}, member: []string{"read", "bind"}, viewer: []string{"read"}},
	{resources: []string{"models", "proxies"}, actions: []string{"read", "write", "delete"}, member: []string{"read"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"model-provider-credentials"}, actions: []string{"read", "write", "delete"}},
	{resources: []string{"api-keys"}, actions: []string{"read", "create", "revoke"}},
	{resources: []string{"applications"}, actions: []string{"read", "write", "delete"}, member: []string{"read"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"end-users"}, actions: []string{"read", "write", "delete"}, member: []string{"read", "write"}, viewer: []string{"read"}, grantable: true},
	{resources: []string{"credential-proxy", "llm-proxy"}, actions: []string{"call"}, grantable: true, adminOnly: true},
	{resources: []string{"webhooks"}, actions: []string{"read", "write", "delete"}, grantable: true},
	{resources: []string{"oauth-clients"}, actions: []string{"read", "write", "delete"}, grantable: true},
	{resources: []string{"cli-sessions"}, actions: []string{"read", "delete"}},
}

// adminExcluded are the owner permissions an admin lacks.
var adminExcluded = []Permission{"org:delete", "members:change-role"}

// PermissionSet is a set of permissions. The zero value is empty.
type PermissionSet map[Permission]struct{}

// NewPermissionSet builds a set from perms.
func NewPermissionSet(perms ...Permission) PermissionSet {
	s := make(PermissionSet, len(perms))
	for _, p := range perms {
		s[p] = struct{}{}
	}
	return s
}

// Has reports whether perm is in the set.
func (s PermissionSet) Has(perm Permission) bool { _, ok := s[perm]; return ok }

// Intersect returns the permissions present in both sets.
func (s PermissionSet) Intersect(other PermissionSet) PermissionSet {
	out := PermissionSet{}
	for p := range s {
		if other.Has(p) {
			out[p] = struct{}{}
		}
	}
	return out
}

// Sorted returns the permissions in lexical order.
func (s PermissionSet) Sorted() []string {
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, string(p))
	}
	sort.Strings(out)
	return out
}

// AllPermissions lists every permission of the matrix, in matrix order.
func AllPermissions() []Permission {
	var out []Permission
	for _, rule := range matrix {
		for _, res := range rule.resources {
			for _, act := range rule.actions {
				out = append(out, Permission(res+":"+act))
			}
		}
	}
	return out
}

// RolePermissions returns what role may do; an unknown role may do nothing.
func RolePermissions(role Role) PermissionSet {
	s := PermissionSet{}
	for _, rule := range matrix {
		for _, res := range rule.resources {
			for _, act := range rule.actions {
				perm := Permission(res + ":" + act)
				if roleHas(role, rule, act, perm) {
					s[perm] = struct{}{}
				}
			}
		}
	}
	return s
}

func roleHas(role Role, rule resourceRule, action string, perm Permission) bool {
	switch role {
	case RoleOwner:
		return true
	case RoleAdmin:
		return !slices.Contains(adminExcluded, perm)
	case RoleMember:
		return grants(rule.member, action)
	case RoleViewer:
		return grants(rule.viewer, action)
	}
	return false
}

func grants(actions []string, action string) bool {
	return slices.Contains(actions, "*") || slices.Contains(actions, action)
}

// Grantable reports whether perm may be an API key scope.
func Grantable(perm Permission) bool {
	res, act, ok := strings.Cut(string(perm), ":")
	if !ok {
		return false
	}
	for _, rule := range matrix {
		if slices.Contains(rule.resources, res) && slices.Contains(rule.actions, act) {
			return rule.grantable
		}
	}
	return false
}

// GrantableScopes returns the API key scopes a creator with role may grant: the grantable permissions of
// the role (credential-proxy:call and llm-proxy:call only for owners and admins).
func GrantableScopes(role Role) PermissionSet {
	out := PermissionSet{}
	for p := range RolePermissions(role) {
		if Grantable(p) {
			out[p] = struct{}{}
		}
	}
	return out
}

// APIKeyPermissions is the effective permission set of an API key: its scopes ∩ the creator's current
// grantable role permissions. Empty stored scopes grant nothing (keys store the expanded list at creation).
func APIKeyPermissions(scopes []string, creatorRole Role) PermissionSet {
	ceiling := GrantableScopes(creatorRole)
	out := PermissionSet{}
	for _, s := range scopes {
		if ceiling.Has(Permission(s)) {
			out[Permission(s)] = struct{}{}
		}
	}
	return out
}

// NormalizeScopes turns requested API key scopes into the stored list: empty → every grantable scope of
// the creator's role; otherwise unknown or non-grantable scopes (and those above the role) are dropped.
func NormalizeScopes(requested []string, creatorRole Role) []string {
	ceiling := GrantableScopes(creatorRole)
	if len(requested) == 0 {
		return ceiling.Sorted()
	}
	keep := PermissionSet{}
	for _, s := range requested {
		if ceiling.Has(Permission(s)) {
			keep[Permission(s)] = struct{}{}
		}
	}
	return keep.Sorted()
}
