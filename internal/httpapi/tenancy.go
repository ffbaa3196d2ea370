package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
)

// TenancyResolver answers the membership questions of the pipeline (steps 10–13 of API.md §1).
type TenancyResolver interface {
	// MemberRole returns userID's role in orgID, or "" when the user is not a member.
	MemberRole(ctx context.Context, orgID, userID string) (auth.Role, error)
	// ApplicationOrg returns the organization owning appID, or "" when there is no such application.
	ApplicationOrg(ctx context.Context, appID string) (string, error)
	// EndUserApplication returns the application owning endUserID, or "" when there is no such end-user.
	EndUserApplication(ctx context.Context, endUserID string) (string, error)
}

// orgContextSkipped are the session paths that work without X-Org-Id (step 11).
func orgContextSkipped(path string) bool {
	return path == "/api/orgs" || strings.HasPrefix(path, "/api/orgs/") || path == "/api/profile" ||
		path == "/api/welcome/setup" || path == "/api/me/orgs"
}

// appContextPrefixes are the path prefixes that need an application (step 13).
var appContextPrefixes = []string{"/api/agents", "/api/runs", "/api/schedules", "/api/end-users", "/api/api-keys",
	"/api/notifications", "/api/packages", "/api/providers", "/api/connections", "/api/app-profiles", "/api/uploads",
	"/api/credential-proxy", "/api/me/application-profile"}

func needsAppContext(path string) bool {
	for _, prefix := range appContextPrefixes {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}

// tenancy resolves realm, organization, role, permissions, application and impersonated end-user for
// authenticated requests.
func tenancy(resolver TenancyResolver) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.PrincipalFrom(r.Context())
			if !ok || resolver == nil {
				next.ServeHTTP(w, r)
				return
			}
			if problem := resolvePrincipal(r, p, resolver); problem != nil {
				WriteProblem(w, r, problem)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func resolvePrincipal(r *http.Request, p *auth.Principal, resolver TenancyResolver) *Problem {
	ctx, path := r.Context(), r.URL.Path
	if p.Method == auth.MethodSession && p.Realm != "" && p.Realm != "platform" &&
		!strings.HasPrefix(path, "/api/oauth/") && !strings.HasPrefix(path, "/api/auth/") {
		return Forbidden("This account cannot use the platform API")
	}
	if r.Header.Get("Appstrate-User") != "" && !p.IsAPIKey() {
		return BadRequest("header_not_allowed", "The Appstrate-User header is only accepted with API key authentication").WithParam("Appstrate-User")
	}
	if problem := resolveOrg(ctx, r, p, resolver); problem != nil {
		return problem
	}
	if p.OrgID != "" && needsAppContext(path) {
		if problem := resolveApp(ctx, r, p, resolver); problem != nil {
			return problem
		}
	}
	return resolveEndUser(ctx, r, p, resolver)
}

// resolveOrg sets OrgID, Role and Permissions (steps 11–12).
func resolveOrg(ctx context.Context, r *http.Request, p *auth.Principal, resolver TenancyResolver) *Problem {
	if p.IsAPIKey() {
		role, err := resolver.MemberRole(ctx, p.OrgID, p.UserID)
		if err != nil {
			return Internal()
		}
		if role == "" { // the key's creator left the organization: the key no longer works
			return Unauthorized("Invalid or expired API key")
		}
		p.Role = role
		p.Permissions = auth.APIKeyPermissions(p.APIKeyScopes, role)
		return nil
	}
	header := strings.TrimSpace(r.Header.Get("X-Org-Id"))
	if p.OrgID != "" && header != "" && header != p.OrgID {
		return Forbidden("X-Org-Id does not match the organization of this credential").WithParam("X-Org-Id")
	}
	orgID := p.OrgID
	if orgID == "" {
		orgID = header
	}
	if orgID == "" {
		if orgContextSkipped(r.URL.Path) {
			return nil
		}
		return BadRequest("invalid_request", "Missing X-Org-Id header").WithParam("X-Org-Id")
	}
	role, err := resolver.MemberRole(ctx, orgID, p.UserID)
	if err != nil {
		return Internal()
	}
	if role == "" {
		if orgContextSkipped(r.URL.Path) && p.OrgID == "" {
			return nil // /api/orgs/{id} routes check membership themselves
		}
		return Forbidden("You are not a member of this organization")
	}
	p.OrgID, p.Role, p.Permissions = orgID, role, auth.RolePermissions(role)
	return nil
}

// resolveApp sets ApplicationID (step 13).
func resolveApp(ctx context.Context, r *http.Request, p *auth.Principal, resolver TenancyResolver) *Problem {
	header := strings.TrimSpace(r.Header.Get("X-Application-Id"))
	if p.ApplicationID != "" {
		if header != "" && header != p.ApplicationID {
			return Forbidden("X-Application-Id does not match the application of this credential").WithParam("X-Application-Id")
		}
		return nil
	}
	if header == "" {
		return BadRequest("invalid_request", "Missing X-Application-Id header").WithParam("X-Application-Id")
	}
	orgID, err := resolver.ApplicationOrg(ctx, header)
	if err != nil {
		return Internal()
	}
	if orgID == "" || orgID != p.OrgID {
		return NotFound("Application not found")
	}
	p.ApplicationID = header
	return nil
}

// resolveEndUser applies Appstrate-User impersonation for API keys (API.md §2.5).
func resolveEndUser(ctx context.Context, r *http.Request, p *auth.Principal, resolver TenancyResolver) *Problem {
	endUser := strings.TrimSpace(r.Header.Get("Appstrate-User"))
	if endUser == "" || !p.IsAPIKey() {
		return nil
	}
	if !ids.Valid(endUser, ids.EndUser) {
		return BadRequest("invalid_end_user_id", "Appstrate-User must be an end-user id (eu_…)").WithParam("Appstrate-User")
	}
	appID, err := resolver.EndUserApplication(ctx, endUser)
	if err != nil {
		return Internal()
	}
	if appID == "" || appID != p.ApplicationID {
		return NewProblem(http.StatusForbidden, "invalid_end_user", "End-user not found in this application").WithParam("Appstrate-User")
	}
	p.EndUserID = endUser
	return nil
}
