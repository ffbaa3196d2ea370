package packages

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

var tags = []string{"Packages"}

// Rate limits per caller and minute (API.md §4.7).
const (
	importRate   = 10
	downloadRate = 50
)

// Deps are what the registry routes need.
type Deps struct {
	Registry *packages.Registry
	Limiter  ratelimit.Limiter
	Logger   *slog.Logger
	// AgentDetailElsewhere leaves `GET /api/packages/agents/{scope}/{name}` (and its {id} alias) to the agents
	// area, which serves the rich agent detail of API.md §5 item 8.
	AgentDetailElsewhere bool
}

type handlers struct{ Deps }

// folders are the URL segments of the four package types.
var folders = []string{"agents", "skills", "tools", "providers"}

// Register adds the registry routes to api.
func Register(api huma.API, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	h := handlers{d}
	for _, folder := range folders {
		h.registerType(api, folder)
	}
	h.registerShared(api)
}

// errs are the statuses every registry operation may answer.
var errs = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}

func rl(l ratelimit.Limiter, n int) func(huma.Context, func(huma.Context)) {
	return httpapi.RateLimit(l, n, httpapi.ByCaller)
}

// caller is the registry's view of the request's principal, with the audit template.
func caller(ctx context.Context) packages.Caller {
	p, _ := auth.PrincipalFrom(ctx)
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx)}
	if ua, ok := ctx.Value(userAgentKey{}).(string); ok {
		ev.UserAgent = ua
	}
	if p.IsAPIKey() {
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	} else {
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	return packages.Caller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, Audit: ev}
}

type userAgentKey struct{}

// withUserAgent keeps the User-Agent for the audit trail.
func withUserAgent(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, userAgentKey{}, ctx.Header("User-Agent")))
}

// title is the capitalised singular of a folder ("agents" → "Agent").
func title(folder string) string {
	t := packages.TypeFromFolder(folder)
	return strings.ToUpper(t[:1]) + t[1:]
}

// problem maps registry errors onto API problems; anything else passes through (→ 500, logged).
func (h handlers) problem(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var re *packages.RegistryError
	if !errors.As(err, &re) {
		var pe *httpapi.Problem
		if errors.As(err, &pe) {
			return pe
		}
		if errors.Is(err, packages.ErrNotFound) {
			return httpapi.NotFound("Package not found")
		}
		return err
	}
	return RegistryProblem(ctx, h.Logger, re)
}

// RegistryProblem maps a package registry refusal onto its API problem (status by kind, code, title, field
// errors); internal failures are logged and become a bare 500. The providers routes use it for custom providers.
func RegistryProblem(ctx context.Context, logger *slog.Logger, re *packages.RegistryError) error {
	status := http.StatusBadRequest
	switch re.Kind {
	case packages.KindForbidden:
		status = http.StatusForbidden
	case packages.KindNotFound:
		status = http.StatusNotFound
	case packages.KindConflict:
		status = http.StatusConflict
	case packages.KindRateLimited:
		status = http.StatusTooManyRequests
	case packages.KindUpstream:
		status = http.StatusBadGateway
	case packages.KindInternal:
		if logger == nil {
			logger = slog.Default()
		}
		logger.ErrorContext(ctx, "package registry failure", "requestId", httpapi.RequestIDFrom(ctx), "error", re.Error())
		return httpapi.Internal()
	}
	p := httpapi.NewProblem(status, re.Code, re.Message)
	if re.Title != "" {
		p.Title = re.Title
	}
	for _, is := range re.Issues {
		p = p.WithErrors(httpapi.FieldError{Field: is.Field, Code: is.Code, Message: is.Message, Title: is.Title})
	}
	return p
}
