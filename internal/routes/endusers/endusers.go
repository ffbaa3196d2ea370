package endusers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/idempotency"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/tenancy"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var tags = []string{"End Users"}

// Rate limits per caller and minute (API.md §4.5).
const (
	writeRate = 60
	readRate  = 300
)

// EndUserObject is the wire form of an end-user (API.md §5 item 16).
type EndUserObject struct {
	ID            string         `json:"id" doc:"eu_<uuid>"`
	Object        string         `json:"object" enum:"end_user"`
	ApplicationID string         `json:"applicationId"`
	Name          *string        `json:"name"`
	Email         *string        `json:"email"`
	ExternalID    *string        `json:"externalId"`
	Metadata      map[string]any `json:"metadata" nullable:"true"`
	CreatedAt     isotime.Time   `json:"createdAt" format:"date-time"`
	UpdatedAt     isotime.Time   `json:"updatedAt" format:"date-time"`
}

func toObject(eu tenancy.EndUser) EndUserObject {
	return EndUserObject{ID: eu.ID, Object: "end_user", ApplicationID: eu.ApplicationID, Name: eu.Name, Email: eu.Email,
		ExternalID: eu.ExternalID, Metadata: eu.Metadata, CreatedAt: eu.CreatedAt, UpdatedAt: eu.UpdatedAt}
}

// EndUserBody is the body of create and update. On update only the members present change; null clears.
type EndUserBody struct {
	Name          optString   `json:"name,omitempty" maxLength:"200"`
	Email         optString   `json:"email,omitempty" maxLength:"254" format:"email"`
	ExternalID    optString   `json:"externalId,omitempty" maxLength:"255" doc:"Your identifier for this user; unique per application"`
	Metadata      optMetadata `json:"metadata,omitempty" doc:"Up to 50 keys of at most 40 characters; values are strings (≤500 characters), numbers, booleans or null"`
	ApplicationID optString   `json:"applicationId,omitempty" doc:"Ignored: the application comes from the request context"`
}

type createInput struct {
	Body EndUserBody
}

type updateInput struct {
	ID   string `path:"id" doc:"End-user id (eu_<uuid>)"`
	Body EndUserBody
}

type idInput struct {
	ID string `path:"id" doc:"End-user id (eu_<uuid>)"`
}

type listInput struct {
	Limit         string `query:"limit" doc:"Page size, 1..100 (default 20)"`
	StartingAfter string `query:"startingAfter" doc:"Return the page after this end-user id (older)"`
	EndingBefore  string `query:"endingBefore" doc:"Return the page before this end-user id (newer)"`
	ExternalID    string `query:"externalId" doc:"Only the end-user with this externalId"`
	Email         string `query:"email" doc:"Only the end-user with this email"`
}

type objectOutput struct {
	Body EndUserObject
}

type listOutput struct {
	Link string `header:"Link" doc:"rel=next / rel=prev cursor links"`
	Body httpapi.List[EndUserObject]
}

// Deps are what the end-user routes need.
type Deps struct {
	EndUsers tenancy.EndUsers
	Limiter  ratelimit.Limiter
	AppURL   string // base of the absolute Link URLs

	Idempotency idempotency.Store // Idempotency-Key on create (API.md §3.6); nil = not supported
	Logger      *slog.Logger      // nil = slog.Default()
}

type handlers struct{ Deps }

// Register adds the end-user routes to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	rl := func(n int) func(huma.Context, func(huma.Context)) {
		return httpapi.RateLimit(d.Limiter, n, httpapi.ByCaller)
	}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests}
	httpapi.Register(api, httpapi.WithIdempotency(huma.Operation{
		OperationID: "createEndUser", Method: http.MethodPost, Path: "/api/end-users",
		Summary: "Create an end-user", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Creates an end-user of the current application together with its Default connection profile. " +
			"Requires end-users:write. 409 external_id_taken / email_taken on duplicates within the application.",
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{rl(writeRate), httpapi.Require("end-users:write"), withRequestInfo(d.AppURL)},
	}, d.Idempotency, d.Logger), h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "listEndUsers", Method: http.MethodGet, Path: "/api/end-users",
		Summary: "List end-users", Tags: tags,
		Description: "End-users of the current application, newest first, with cursor pagination " +
			"(startingAfter / endingBefore, mutually exclusive) and Link headers.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(readRate), withRequestInfo(d.AppURL)},
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "getEndUser", Method: http.MethodGet, Path: "/api/end-users/{id}",
		Summary: "Get an end-user", Tags: tags, Errors: errs,
		Middlewares: huma.Middlewares{rl(readRate)},
	}, h.get)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateEndUser", Method: http.MethodPatch, Path: "/api/end-users/{id}",
		Summary: "Update an end-user", Tags: tags,
		Description: "Partial update: only the members present change; null clears a member. Requires end-users:write.",
		Errors:      append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{rl(writeRate), httpapi.Require("end-users:write"), withRequestInfo(d.AppURL)},
	}, h.update)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteEndUser", Method: http.MethodDelete, Path: "/api/end-users/{id}",
		Summary: "Delete an end-user", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Deletes the end-user and its connection profiles. Requires end-users:delete.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(writeRate), httpapi.Require("end-users:delete"), withRequestInfo(d.AppURL)},
	}, h.delete)
}

// denyImpersonatedWrite refuses writes from a caller acting as an end-user: an end-user may read itself but
// not manage end-users.
func denyImpersonatedWrite(p *auth.Principal) error {
	if p.EndUserID != "" {
		return httpapi.Forbidden("End-users cannot be managed while acting as an end-user (Appstrate-User)")
	}
	return nil
}

func (h handlers) create(ctx context.Context, in *createInput) (*objectOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if err := denyImpersonatedWrite(p); err != nil {
		return nil, err
	}
	b := in.Body
	eu, err := h.EndUsers.Create(ctx, p.OrgID, p.ApplicationID, tenancy.NewEndUser{Name: b.Name.Value, Email: b.Email.Value,
		ExternalID: b.ExternalID.Value, Metadata: b.Metadata.Value}, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &objectOutput{Body: toObject(eu)}, nil
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	cursor, prob := httpapi.ParseCursor(in.Limit, in.StartingAfter, in.EndingBefore, 20)
	if prob != nil {
		return nil, prob
	}
	page, err := h.EndUsers.List(ctx, p.ApplicationID, tenancy.EndUserQuery{Limit: cursor.Limit,
		StartingAfter: cursor.StartingAfter, EndingBefore: cursor.EndingBefore, ExternalID: in.ExternalID,
		Email: in.Email, OnlyID: p.EndUserID})
	if errors.Is(err, tenancy.ErrCursorNotFound) {
		param := "startingAfter"
		if cursor.EndingBefore != "" {
			param = "endingBefore"
		}
		return nil, httpapi.BadRequest("invalid_request", "No end-user with id "+cursor.StartingAfter+cursor.EndingBefore+" in this application").WithParam(param)
	}
	if err != nil {
		return nil, err
	}
	items := make([]EndUserObject, 0, len(page.Items))
	for _, eu := range page.Items {
		items = append(items, toObject(eu))
	}
	out := &listOutput{Body: httpapi.NewList(items, page.HasMore)}
	out.Body.Limit = &cursor.Limit
	if n := len(items); n > 0 {
		out.Link = httpapi.CursorLinks(requestURL(ctx), cursor, items[0].ID, items[n-1].ID, page.HasMore)
	}
	return out, nil
}

func (h handlers) get(ctx context.Context, in *idInput) (*objectOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if p.EndUserID != "" && in.ID != p.EndUserID {
		return nil, problem(tenancy.ErrEndUserNotFound)
	}
	eu, err := h.EndUsers.Get(ctx, p.ApplicationID, in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &objectOutput{Body: toObject(eu)}, nil
}

func (h handlers) update(ctx context.Context, in *updateInput) (*objectOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if err := denyImpersonatedWrite(p); err != nil {
		return nil, err
	}
	b := in.Body
	eu, err := h.EndUsers.Update(ctx, p.ApplicationID, in.ID, tenancy.EndUserPatch{
		Name: b.Name.Value, SetName: b.Name.Set, Email: b.Email.Value, SetEmail: b.Email.Set,
		ExternalID: b.ExternalID.Value, SetExternalID: b.ExternalID.Set, Metadata: b.Metadata.Value, SetMetadata: b.Metadata.Set,
	}, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &objectOutput{Body: toObject(eu)}, nil
}

func (h handlers) delete(ctx context.Context, in *idInput) (*struct{}, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if err := denyImpersonatedWrite(p); err != nil {
		return nil, err
	}
	if err := h.EndUsers.Delete(ctx, p.ApplicationID, in.ID, auditActor(ctx, p)); err != nil {
		return nil, problem(err)
	}
	return nil, nil
}

// problem maps the service errors onto API problems; others pass through (→ 500).
func problem(err error) error {
	var invalid *tenancy.InvalidEndUserError
	switch {
	case errors.Is(err, tenancy.ErrEndUserNotFound):
		return httpapi.NotFound("End-user not found")
	case errors.Is(err, tenancy.ErrExternalIDTaken):
		return httpapi.Conflict("external_id_taken", "An end-user with this externalId already exists in this application").WithParam("externalId")
	case errors.Is(err, tenancy.ErrEndUserEmailTaken):
		return httpapi.Conflict("email_taken", "An end-user with this email already exists in this application").WithParam("email")
	case errors.As(err, &invalid) && len(invalid.Violations) > 0:
		fields := make([]httpapi.FieldError, 0, len(invalid.Violations))
		for _, v := range invalid.Violations {
			fields = append(fields, httpapi.FieldError{Field: v.Field, Code: v.Code, Message: v.Message})
		}
		return httpapi.BadRequest("validation_failed", validationDetail(fields)).WithErrors(fields...)
	}
	return err
}

// validationDetail renders "<field>: <msg>" (+ " (+N more)") as the pipeline does for body validation.
func validationDetail(fields []httpapi.FieldError) string {
	detail := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		detail += " (+" + strconv.Itoa(len(fields)-1) + " more)"
	}
	return detail
}

// requestInfo is what handlers need from the raw request: the absolute URL (Link headers) and the
// User-Agent (audit trail).
type requestInfo struct {
	url       url.URL
	userAgent string
}

type requestInfoKey struct{}

// withRequestInfo captures the request URL, rebased on appURL (the public origin), and the User-Agent.
func withRequestInfo(appURL string) func(huma.Context, func(huma.Context)) {
	base, _ := url.Parse(appURL)
	return func(ctx huma.Context, next func(huma.Context)) {
		u := ctx.URL()
		if base != nil && base.Host != "" {
			u.Scheme, u.Host = base.Scheme, base.Host
		} else {
			u.Scheme, u.Host = "http", ctx.Host()
		}
		next(huma.WithValue(ctx, requestInfoKey{}, requestInfo{url: u, userAgent: ctx.Header("User-Agent")}))
	}
}

func requestURL(ctx context.Context) *url.URL {
	info, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return &info.url
}

// auditActor is the audit event template of the caller: actor, client IP, user agent and request id.
func auditActor(ctx context.Context, p *auth.Principal) audit.Event {
	info, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx), UserAgent: info.userAgent}
	switch {
	case p.IsAPIKey():
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	default:
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	return ev
}
