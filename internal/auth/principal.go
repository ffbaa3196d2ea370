package auth

import "context"

// Method is how a caller authenticated (the upstream `authMethod`).
type Method string

// The authentication methods of API.md §2.1.
const (
	MethodSession         Method = "session"
	MethodAPIKey          Method = "api_key"
	MethodOAuth2Instance  Method = "oauth2-instance"
	MethodOAuth2Dashboard Method = "oauth2-dashboard"
	MethodOAuth2EndUser   Method = "oauth2-end-user"
)

// Principal is the authenticated caller of one request. Strategies fill the credential part; the pipeline
// then resolves the organization, role, permissions, application and impersonated end-user.
type Principal struct {
	Method Method

	// UserID is the user behind the request: the signed-in user, or for an API key its creator (whose
	// current role is the ceiling of the key's permissions).
	UserID    string
	Email     string
	Name      string
	Realm     string // "platform" for dashboard users
	SessionID string // session row id (cookie or bearer session token)

	APIKeyID     string
	APIKeyScopes []string // the key's stored scopes

	// OrgID and ApplicationID are pinned by the credential (API key, some JWTs) or resolved from the
	// X-Org-Id / X-Application-Id headers.
	OrgID         string
	ApplicationID string
	EndUserID     string // Appstrate-User impersonation (API keys only)

	Role        Role          // the user's role in OrgID; "" before the org is resolved
	Permissions PermissionSet // effective permissions in OrgID
}

// IsAPIKey reports whether the caller is an API key.
func (p *Principal) IsAPIKey() bool { return p.Method == MethodAPIKey }

// Can reports whether the caller holds perm in the current organization.
func (p *Principal) Can(perm Permission) bool { return p.Permissions.Has(perm) }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of the request, if it authenticated.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
