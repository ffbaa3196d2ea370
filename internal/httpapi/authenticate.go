package httpapi

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/appstrate/appstrate-go/internal/auth"
)

// Strategy authenticates one kind of credential (API key, session cookie, JWT...). It returns (nil, nil) when
// the request carries no credential it understands, so the next strategy is tried; a non-nil error stops the
// chain (a *Problem is sent as is, anything else becomes 401).
type Strategy interface {
	Authenticate(r *http.Request) (*auth.Principal, error)
}

// StrategyFunc adapts a function to Strategy.
type StrategyFunc func(r *http.Request) (*auth.Principal, error)

// Authenticate implements Strategy.
func (f StrategyFunc) Authenticate(r *http.Request) (*auth.Principal, error) { return f(r) }

// runEventsPath matches the run event sink, which authenticates with its own HMAC signature.
var runEventsPath = regexp.MustCompile(`^/api/runs/[^/]+/events(/finalize|/heartbeat)?$`)

// skipAuth lists the paths the auth middleware leaves to their own handlers (API.md §1 step 9).
func skipAuth(path string) bool {
	switch {
	case !strings.HasPrefix(path, "/api/"):
		return true
	case strings.HasPrefix(path, "/api/auth/"), strings.HasPrefix(path, "/api/realtime/"):
		return true
	case path == "/api/connections/callback", path == "/api/uploads/_content",
		path == "/api/docs", path == "/api/openapi.json", path == "/api/openapi.yaml":
		return true
	}
	return runEventsPath.MatchString(path)
}

// sessionCookieNames are the Better Auth cookies cleared when a request presents a stale one.
var sessionCookieNames = []string{
	"better-auth.session_token", "__Secure-better-auth.session_token",
	"better-auth.session_data", "__Secure-better-auth.session_data",
}

func authenticate(strategies []Strategy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if skipAuth(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			for _, s := range strategies {
				p, err := s.Authenticate(r)
				if err != nil {
					writeAuthError(w, r, err)
					return
				}
				if p != nil {
					next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
					return
				}
			}
			clearStaleCookies(w, r)
			WriteProblem(w, r, Unauthorized("Invalid or missing session"))
		})
	}
}

func writeAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if errors.As(err, &p) {
		WriteProblem(w, r, p)
		return
	}
	WriteProblem(w, r, Unauthorized(err.Error()))
}

func clearStaleCookies(w http.ResponseWriter, r *http.Request) {
	for _, name := range sessionCookieNames {
		if _, err := r.Cookie(name); err != nil {
			continue
		}
		http.SetCookie(w, &http.Cookie{
			Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: strings.HasPrefix(name, "__Secure-"), SameSite: http.SameSiteLaxMode,
		})
	}
}

// AuthenticateRequest runs the authentication strategies and the tenancy resolution of the pipeline on r for
// handlers that live outside it (the realtime streams, whose credentials and context come from the query
// string). The application context is always required. A nil principal comes with the problem to answer.
func AuthenticateRequest(r *http.Request, strategies []Strategy, resolver TenancyResolver) (*auth.Principal, *Problem) {
	var p *auth.Principal
	for _, s := range strategies {
		got, err := s.Authenticate(r)
		if err != nil {
			var problem *Problem
			if errors.As(err, &problem) {
				return nil, problem
			}
			return nil, Unauthorized(err.Error())
		}
		if got != nil {
			p = got
			break
		}
	}
	if p == nil {
		return nil, Unauthorized("Invalid or missing session")
	}
	if problem := resolvePrincipal(r, p, resolver); problem != nil {
		return nil, problem
	}
	if p.OrgID == "" {
		return nil, BadRequest("invalid_request", "Missing organization").WithParam("orgId")
	}
	if p.ApplicationID == "" {
		if problem := resolveApp(r.Context(), r, p, resolver); problem != nil {
			return nil, problem
		}
	}
	return p, nil
}
