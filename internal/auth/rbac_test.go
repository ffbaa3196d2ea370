package auth

import (
	"slices"
	"strings"
	"testing"
)

// specMatrix transcribes API.md §2.6 row by row, independently of the matrix in rbac.go:
// resource → {all actions, member actions, viewer actions, grantable}.
var specMatrix = map[string]struct {
	actions, member, viewer string
	grantable               bool
}{
	"org":                        {"read update delete", "read", "read", false},
	"members":                    {"read invite remove change-role", "read", "read", false},
	"agents":                     {"read write configure delete run", "read run", "read", true},
	"skills":                     {"read write delete", "read", "read", true},
	"tools":                      {"read write delete", "read", "read", true},
	"providers":                  {"read write delete", "read", "read", true},
	"runs":                       {"read cancel delete", "read cancel", "read", true},
	"schedules":                  {"read write delete", "read write delete", "read", true},
	"persistence":                {"read delete", "read", "read", false},
	"connections":                {"read connect disconnect", "read connect disconnect", "read", true},
	"profiles":                   {"read write delete", "read write delete", "read", false},
	"app-profiles":               {"read write delete bind", "read bind", "read", false},
	"models":                     {"read write delete", "read", "read", true},
	"proxies":                    {"read write delete", "read", "read", true},
	"model-provider-credentials": {"read write delete", "", "", false},
	"api-keys":                   {"read create revoke", "", "", false},
	"applications":               {"read write delete", "read", "read", true},
	"end-users":                  {"read write delete", "read write", "read", true},
	"credential-proxy":           {"call", "", "", true},
	"llm-proxy":                  {"call", "", "", true},
	"webhooks":                   {"read write delete", "", "", true},
	"oauth-clients":              {"read write delete", "", "", true},
	"cli-sessions":               {"read delete", "", "", false},
}

func expected(role Role, resource, action string) bool {
	row := specMatrix[resource]
	perm := resource + ":" + action
	switch role {
	case RoleOwner:
		return true
	case RoleAdmin:
		return perm != "org:delete" && perm != "members:change-role"
	case RoleMember:
		return slices.Contains(strings.Fields(row.member), action)
	case RoleViewer:
		return slices.Contains(strings.Fields(row.viewer), action)
	}
	return false
}

// TestRBACMatrix walks every role × permission of the spec.
func TestRBACMatrix(t *testing.T) {
	count := 0
	for resource, row := range specMatrix {
		for _, action := range strings.Fields(row.actions) {
			perm := Permission(resource + ":" + action)
			count++
			for _, role := range Roles {
				if got, want := RolePermissions(role).Has(perm), expected(role, resource, action); got != want {
					t.Errorf("%s has %s = %v, want %v", role, perm, got, want)
				}
			}
			if got := Grantable(perm); got != row.grantable {
				t.Errorf("Grantable(%s) = %v, want %v", perm, got, row.grantable)
			}
		}
	}
	if all := AllPermissions(); len(all) != count {
		t.Errorf("matrix has %d permissions, spec has %d", len(all), count)
	}
	if len(RolePermissions("intruder")) != 0 {
		t.Error("an unknown role must have no permission")
	}
}

// TestAPIKeyScopes covers keys with and without scopes for every creator role.
func TestAPIKeyScopes(t *testing.T) {
	for _, role := range Roles {
		t.Run(string(role), func(t *testing.T) {
			all := NormalizeScopes(nil, role)
			for _, s := range all {
				if !Grantable(Permission(s)) || !RolePermissions(role).Has(Permission(s)) {
					t.Errorf("default scope %s is not grantable by %s", s, role)
				}
			}
			proxy := slices.Contains(all, "credential-proxy:call") && slices.Contains(all, "llm-proxy:call")
			if wantProxy := role == RoleOwner || role == RoleAdmin; proxy != wantProxy {
				t.Errorf("%s default scopes include proxy calls = %v, want %v", role, proxy, wantProxy)
			}
			for _, s := range all {
				if strings.HasPrefix(s, "api-keys:") || strings.HasPrefix(s, "org:") || strings.HasPrefix(s, "members:") {
					t.Errorf("non-grantable scope %s granted", s)
				}
			}
			// Explicit scopes are filtered: unknown, non-grantable and above-role scopes are dropped.
			got := NormalizeScopes([]string{"agents:read", "agents:write", "org:delete", "nope:nope"}, role)
			want := []string{"agents:read"}
			if RolePermissions(role).Has("agents:write") {
				want = append(want, "agents:write")
			}
			if !slices.Equal(got, want) {
				t.Errorf("NormalizeScopes = %v, want %v", got, want)
			}
		})
	}
	// Effective permissions follow the creator's current role: a key made by an admin loses writes when the
	// admin becomes a viewer.
	scopes := NormalizeScopes(nil, RoleAdmin)
	if !APIKeyPermissions(scopes, RoleAdmin).Has("agents:write") {
		t.Fatal("admin key should write agents")
	}
	eff := APIKeyPermissions(scopes, RoleViewer)
	if eff.Has("agents:write") || !eff.Has("agents:read") {
		t.Fatalf("downgraded key permissions: %v", eff.Sorted())
	}
	if len(APIKeyPermissions(scopes, "")) != 0 {
		t.Fatal("a key whose creator left the org must have no permission")
	}
}
