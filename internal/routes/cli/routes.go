package cli

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

// MemberRoles answers the caller's role in an organization ("" when not a member).
type MemberRoles interface {
	MemberRole(ctx context.Context, orgID, userID string) (auth.Role, error)
}

// Deps are what the routes need.
type Deps struct {
	OIDC     *oidc.Service
	Accounts *auth.Accounts // cookie sessions of /api/auth/cli/sessions*
	Members  MemberRoles    // roles for the org-admin routes
	Limiter  ratelimit.Limiter
	Logger   *slog.Logger
}

// Rate limits of API.md §2.3 and §4.1 (per minute).
const (
	deviceCodeLimit = 10  // per IP
	tokenLimit      = 30  // per IP
	orgListLimit    = 120 // per caller
	orgDeleteLimit  = 30  // per caller
)

type routes struct{ Deps }

// Register mounts the endpoints: the /api/auth ones on the mux (their bodies are OAuth or Better Auth
// documents, not problem+json), the org-admin ones as API operations.
func Register(srv *httpapi.Server, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt := &routes{d}
	mux := srv.Mux()
	mux.HandleFunc("POST /api/auth/device/code", rt.deviceCode)
	mux.HandleFunc("POST /api/auth/cli/token", rt.token)
	mux.HandleFunc("POST /api/auth/cli/revoke", rt.revoke)
	mux.HandleFunc("GET /api/auth/jwks", rt.jwks)
	mux.HandleFunc("GET /api/auth/cli/sessions", rt.listSessions)
	mux.HandleFunc("POST /api/auth/cli/sessions/revoke", rt.revokeSession)
	mux.HandleFunc("POST /api/auth/cli/sessions/revoke-all", rt.revokeAllSessions)
	documentAuth(srv.API())
	rt.registerOrgRoutes(srv.API())
}

// limited takes one request from an IP budget; false means a 429 problem was written.
func (rt *routes) limited(w http.ResponseWriter, r *http.Request, name string, n int) bool {
	if rt.Limiter == nil {
		return false
	}
	res, err := rt.Limiter.Take(r.Context(), "cli:"+name+":ip:"+httpapi.ClientIPFrom(r.Context()), n, timeMinute)
	if err != nil {
		return false // a broken limiter lets traffic through, as the rest of the API does
	}
	state := httpapi.RateLimitState{Limit: res.Limit, Remaining: res.Remaining, Reset: res.Reset, Window: res.Window}
	if !res.Allowed {
		httpapi.WriteProblem(w, r, httpapi.RateLimited("", state))
		return true
	}
	httpapi.SetRateLimitHeaders(w.Header(), state)
	return false
}

// registerOrgRoutes adds GET and DELETE /api/orgs/{orgId}/cli-sessions[/{familyId}].
func (rt *routes) registerOrgRoutes(api huma.API) {
	list := huma.Operation{OperationID: "listOrgCliSessions", Method: http.MethodGet, Path: "/api/orgs/{orgId}/cli-sessions",
		Summary: "List the CLI sessions of an organization's members",
		Description: "Every live CLI login (refresh-token family head) of the organization's members, most recently used first, " +
			"with the user. Permission `cli-sessions:read` (owner and admin; never granted to API keys). 120 requests per minute.",
		Tags: []string{"Organizations"}, Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{httpapi.RateLimit(rt.Limiter, orgListLimit, httpapi.ByCaller)}}
	httpapi.Register(api, list, rt.listOrgSessions)
	del := huma.Operation{OperationID: "revokeOrgCliSession", Method: http.MethodDelete, Path: "/api/orgs/{orgId}/cli-sessions/{familyId}",
		Summary: "Revoke a CLI session of an organization member",
		Description: "Revokes the whole refresh-token family: the CLI must log in again and its access tokens stop working. " +
			"Permission `cli-sessions:delete` (owner and admin). 30 requests per minute.",
		Tags: []string{"Organizations"}, DefaultStatus: http.StatusNoContent,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{httpapi.RateLimit(rt.Limiter, orgDeleteLimit, httpapi.ByCaller)}}
	httpapi.Register(api, del, rt.revokeOrgSession)
}
