package orgs

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/tenancy"
)

// problem maps the tenancy service errors to problem+json; anything else is a 500.
func problem(err error) error {
	detail := tenancy.RuleDetail(err)
	switch {
	case errors.Is(err, tenancy.ErrForbidden), errors.Is(err, tenancy.ErrOrgCreationDisabled):
		return httpapi.Forbidden(detail)
	case errors.Is(err, tenancy.ErrNotFound):
		return httpapi.NotFound(detail)
	case errors.Is(err, tenancy.ErrSlugTaken):
		return httpapi.BadRequest("slug_taken", detail).WithParam("slug")
	case errors.Is(err, tenancy.ErrAlreadyMember):
		return httpapi.Conflict("conflict", detail)
	case errors.Is(err, tenancy.ErrInvitationAccepted):
		return httpapi.NewProblem(http.StatusGone, "invitation_accepted", detail)
	case errors.Is(err, tenancy.ErrInvitationCancelled):
		return httpapi.NewProblem(http.StatusGone, "invitation_cancelled", detail)
	case errors.Is(err, tenancy.ErrInvitationExpired):
		return httpapi.NewProblem(http.StatusGone, "invitation_expired", detail)
	case errors.Is(err, tenancy.ErrInvalid):
		return validation(detail)
	}
	return err
}

// validation renders a "<field>: <message>" detail as a validation_failed problem.
func validation(detail string) *httpapi.Problem {
	field, msg, ok := strings.Cut(detail, ": ")
	if !ok {
		field, msg = "body", detail
	}
	return httpapi.BadRequest("validation_failed", detail).
		WithErrors(httpapi.FieldError{Field: field, Code: "invalid_value", Message: msg})
}

type userAgentKey struct{}

// captureUserAgent keeps the User-Agent for the audit trail.
func captureUserAgent(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, userAgentKey{}, ctx.Header("User-Agent")))
}

// callerFrom describes the authenticated caller of the request to the tenancy service.
func callerFrom(ctx context.Context) tenancy.Caller {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return tenancy.Caller{
		UserID: p.UserID, Email: p.Email, Name: p.Name,
		APIKey: p.IsAPIKey(), APIKeyID: p.APIKeyID, OrgID: p.OrgID, OrgPinned: orgPinned(p), AppID: p.ApplicationID, EndUserID: p.EndUserID, Role: p.Role,
		IP: httpapi.ClientIPFrom(ctx), UserAgent: ua, RequestID: httpapi.RequestIDFrom(ctx),
	}
}

// orgPinned reports whether the credential itself is bound to one organization.
func orgPinned(p *auth.Principal) bool {
	return p.IsAPIKey() || p.Method == auth.MethodOAuth2Dashboard || p.Method == auth.MethodOAuth2EndUser
}
