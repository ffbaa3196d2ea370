package apppackages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/jsonschema"
	"github.com/appstrate/appstrate-go/internal/packages"
)

type userAgentKey struct{}

// WithUserAgent keeps the User-Agent of the request for the audit trail.
func WithUserAgent(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, userAgentKey{}, ctx.Header("User-Agent")))
}

// Caller describes the authenticated caller of the request to the installation and agent services.
func Caller(ctx context.Context) packages.AppCaller {
	p, _ := auth.PrincipalFrom(ctx)
	if p == nil {
		p = &auth.Principal{}
	}
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx), ActorType: audit.ActorUser, ActorID: p.UserID}
	if ua, ok := ctx.Value(userAgentKey{}).(string); ok {
		ev.UserAgent = ua
	}
	if p.IsAPIKey() {
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	}
	return packages.AppCaller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, APIKey: p.IsAPIKey(), Audit: ev}
}

// Problem maps the installation and agent-settings errors to problem+json; anything else is returned as is
// (→ 500, logged).
func Problem(err error) error {
	if err == nil {
		return nil
	}
	var cfg *packages.ConfigValidationError
	if errors.As(err, &cfg) {
		return ConfigProblem(cfg.Errors)
	}
	detail := packages.ErrorDetail(err)
	switch {
	case errors.Is(err, packages.ErrApplicationForbidden), errors.Is(err, packages.ErrAgentNotOwned):
		return httpapi.Forbidden(detail)
	case errors.Is(err, packages.ErrApplicationNotFound), errors.Is(err, packages.ErrAppProfileNotFound),
		errors.Is(err, packages.ErrVersionNotFound):
		return httpapi.NotFound(detail)
	case errors.Is(err, packages.ErrNotFound):
		return httpapi.NotFound("Package not found")
	case errors.Is(err, packages.ErrAgentNotFound):
		return httpapi.NewProblem(404, "agent_not_found", detail)
	case errors.Is(err, packages.ErrNotInstalled):
		return httpapi.NewProblem(404, "package_not_installed", detail)
	case errors.Is(err, packages.ErrAlreadyInstalled):
		return httpapi.Conflict("already_installed", detail)
	case errors.Is(err, packages.ErrAgentInUse):
		return httpapi.Conflict("agent_in_use", detail)
	case errors.Is(err, packages.ErrInvalidConfigSchema):
		return httpapi.BadRequest("invalid_request", detail)
	case errors.Is(err, packages.ErrInvalidSettings):
		field, msg, ok := strings.Cut(detail, ": ")
		if !ok {
			field, msg = "body", detail
		}
		return httpapi.BadRequest("validation_failed", detail).
			WithErrors(httpapi.FieldError{Field: field, Code: "invalid_value", Message: msg})
	}
	return err
}

// ConfigProblem is the 400 validation_failed of a config that does not match the agent's config schema:
// one entry per failure, field `config.<path>`, code invalid_config.
func ConfigProblem(errs []jsonschema.FieldError) *httpapi.Problem {
	fields := make([]httpapi.FieldError, 0, len(errs))
	for _, e := range errs {
		fields = append(fields, httpapi.FieldError{Field: jsonschema.JoinPath("config", e.Path), Code: "invalid_config", Message: e.Message})
	}
	if len(fields) == 0 {
		fields = append(fields, httpapi.FieldError{Field: "config", Code: "invalid_config", Message: "is invalid"})
	}
	detail := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		detail += fmt.Sprintf(" (+%d more)", len(fields)-1)
	}
	return httpapi.BadRequest("validation_failed", detail).WithErrors(fields...)
}

// RawObject is a JSON object body member kept as raw bytes (numbers stay exact); huma checks it is an object.
type RawObject struct {
	Raw json.RawMessage
}

// UnmarshalJSON keeps the member's bytes.
func (o *RawObject) UnmarshalJSON(b []byte) error {
	o.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// Schema documents the member as an object with any members.
func (RawObject) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}
}

// OptString is a body member that remembers whether it was sent: absent (Set false), null (Value nil) or a
// string.
type OptString struct {
	Set   bool
	Value *string
}

// UnmarshalJSON is called for every present member, null included.
func (o *OptString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if strings.TrimSpace(string(b)) == "null" {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

// Schema documents the member as a nullable string.
func (OptString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true}
}

// OptInt is an integer body member that remembers whether it was sent (null clears).
type OptInt struct {
	Set   bool
	Value *int64
}

// UnmarshalJSON is called for every present member, null included.
func (o *OptInt) UnmarshalJSON(b []byte) error {
	o.Set = true
	if strings.TrimSpace(string(b)) == "null" {
		o.Value = nil
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	o.Value = &n
	return nil
}

// Schema documents the member as a nullable integer.
func (OptInt) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeInteger, Nullable: true}
}
