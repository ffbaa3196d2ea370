package providers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/packages"
	prov "github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/routes/apppackages"
	pkgroutes "github.com/appstrate/appstrate-go/internal/routes/packages"
)

// Actor is the provider/connection service's view of the request's caller, with the audit template.
func Actor(ctx context.Context) prov.ConnectionActor {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	return prov.ConnectionActorOf(p, apppackages.Caller(ctx).Audit)
}

// Problem maps the errors of the provider, connection and credential proxy services to problems; anything
// else is logged and becomes 500.
func Problem(ctx context.Context, logger *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ve *prov.ValidationError
	if errors.As(err, &ve) {
		fields := make([]httpapi.FieldError, 0, len(ve.Issues))
		for _, is := range ve.Issues {
			fields = append(fields, httpapi.FieldError{Field: is.Field, Code: is.Code, Message: is.Message})
		}
		return httpapi.BadRequest("validation_failed", ve.Detail()).WithErrors(fields...)
	}
	var pe *prov.ProxyError
	if errors.As(err, &pe) {
		return httpapi.NewProblem(pe.Status, pe.Code, pe.Message)
	}
	var re *packages.RegistryError
	if errors.As(err, &re) {
		return pkgroutes.RegistryProblem(ctx, logger, re)
	}
	var hp *httpapi.Problem
	if errors.As(err, &hp) {
		return hp
	}
	detail := sentence(err.Error())
	switch {
	case errors.Is(err, prov.ErrProviderNotFound), errors.Is(err, prov.ErrApplicationNotFound),
		errors.Is(err, prov.ErrConnectionNotFound), errors.Is(err, packages.ErrNotFound):
		return httpapi.NotFound(detail)
	case errors.Is(err, prov.ErrApplicationForbidden), errors.Is(err, prov.ErrProviderNotEnabled),
		errors.Is(err, prov.ErrProfileForbidden), errors.Is(err, prov.ErrProfileNotFound):
		return httpapi.Forbidden(detail)
	case errors.Is(err, prov.ErrSystemProvider):
		return httpapi.NewProblem(http.StatusForbidden, "operation_not_allowed", detail)
	case errors.Is(err, prov.ErrProviderNotConfigured):
		return httpapi.BadRequest("provider_not_configured", detail)
	case errors.Is(err, prov.ErrNeedsReconnection):
		return httpapi.BadRequest("needs_reconnection", detail)
	case errors.Is(err, prov.ErrWrongAuthMode), errors.Is(err, prov.ErrInvalidRequest):
		return httpapi.BadRequest("invalid_request", detail)
	case errors.Is(err, prov.ErrProviderUnavailable), errors.Is(err, prov.ErrRefreshFailed):
		return httpapi.NewProblem(http.StatusBadGateway, "provider_error", detail)
	}
	if logger == nil {
		logger = slog.Default()
	}
	logger.ErrorContext(ctx, "providers: request failed", "requestId", httpapi.RequestIDFrom(ctx), "error", err)
	return httpapi.Internal()
}

// sentence upper-cases the first letter of an error message.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
