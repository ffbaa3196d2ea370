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

// Principal is the authenticated caller of one request.
type Principal struct {
	Method        Method
	UserID        string
	APIKeyID      string
	EndUserID     string
	OrgID         string // pinned organization, when the credential carries one
	ApplicationID string // pinned application, when the credential carries one
}

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
