package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/idempotency"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
	"github.com/appstrate/appstrate-go/internal/webhooks"
)

var tags = []string{"Webhooks"}

// Rate limits per caller and minute (API.md §4.15, PLATFORM.md §2.3).
const (
	createRate = 10
	readRate   = 300
	writeRate  = 60
	testRate   = 5
	rotateRate = 5
)

// Webhook is the wire form of a webhook (API.md §5 item 18, without the secret).
type Webhook struct {
	ID            string       `json:"id" doc:"wh_<uuid>"`
	Object        string       `json:"object" enum:"webhook"`
	Level         string       `json:"level" enum:"org,application"`
	ApplicationID *string      `json:"applicationId" doc:"The application of an application-level webhook; null for org-level"`
	URL           string       `json:"url"`
	Events        []string     `json:"events" enum:"run.started,run.success,run.failed,run.timeout,run.cancelled"`
	PackageID     *string      `json:"packageId" doc:"Only runs of this agent; null = every agent"`
	PayloadMode   string       `json:"payloadMode" enum:"full,summary"`
	Enabled       bool         `json:"enabled"`
	CreatedAt     isotime.Time `json:"createdAt" format:"date-time"`
	UpdatedAt     isotime.Time `json:"updatedAt" format:"date-time"`
}

// CreatedWebhook is the creation response: the only one, with rotation, that shows the secret.
type CreatedWebhook struct {
	Webhook
	Secret string `json:"secret" doc:"Signing secret whsec_<base64url(32 bytes)>. Shown once; store it now."`
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toWire(w webhooks.Webhook) Webhook {
	return Webhook{ID: w.ID, Object: "webhook", Level: w.Level, ApplicationID: strOrNil(w.ApplicationID), URL: w.URL,
		Events: w.Events, PackageID: strOrNil(w.PackageID), PayloadMode: w.PayloadMode, Enabled: w.Enabled,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// WebhookDelivery is one recorded delivery attempt.
type WebhookDelivery struct {
	ID         string       `json:"id" format:"uuid"`
	EventID    string       `json:"eventId" doc:"evt_<uuid>, also the webhook-id header"`
	EventType  string       `json:"eventType"`
	Status     string       `json:"status" enum:"pending,success,failed"`
	StatusCode *int         `json:"statusCode" doc:"HTTP status of the response; null without a response"`
	Latency    *int64       `json:"latency" doc:"Milliseconds until the response (or the failure)"`
	Attempt    int          `json:"attempt" doc:"1..8"`
	Error      *string      `json:"error"`
	CreatedAt  isotime.Time `json:"createdAt" format:"date-time"`
}

// WebhookCreateBody is the body of POST /api/webhooks, discriminated on level.
type WebhookCreateBody struct {
	Level         string   `json:"level" enum:"org,application" doc:"org: fires for every application; application: only for applicationId"`
	ApplicationID string   `json:"applicationId,omitempty" doc:"Required for level application (app_<uuid>); omitted for org"`
	URL           string   `json:"url" minLength:"1" maxLength:"2048" doc:"https URL (plain http only to localhost, 127.0.0.1 or [::1] outside production); never an internal address"`
	Events        []string `json:"events" minItems:"1" enum:"run.started,run.success,run.failed,run.timeout,run.cancelled"`
	PackageID     *string  `json:"packageId,omitempty" nullable:"true" doc:"Only runs of this agent (@scope/name)"`
	PayloadMode   string   `json:"payloadMode,omitempty" enum:"full,summary" doc:"summary strips result and input (default full)"`
	Enabled       *bool    `json:"enabled,omitempty" doc:"Default true"`
}

// WebhookUpdateBody is the body of PUT /api/webhooks/{id}: only the members present change; packageId null removes
// the filter. level and applicationId cannot change (sending the current values is accepted).
type WebhookUpdateBody struct {
	URL           *string   `json:"url,omitempty" minLength:"1" maxLength:"2048"`
	Events        []string  `json:"events,omitempty" minItems:"1" enum:"run.started,run.success,run.failed,run.timeout,run.cancelled"`
	PackageID     optString `json:"packageId,omitempty"`
	PayloadMode   *string   `json:"payloadMode,omitempty" enum:"full,summary"`
	Enabled       *bool     `json:"enabled,omitempty"`
	Level         *string   `json:"level,omitempty" enum:"org,application" doc:"Immutable"`
	ApplicationID *string   `json:"applicationId,omitempty" doc:"Immutable"`
}

// WebhookRotateBody is the optional body of POST /api/webhooks/{id}/rotate.
type WebhookRotateBody struct {
	WindowSeconds *int `json:"windowSeconds,omitempty" minimum:"0" maximum:"2592000" doc:"How long the previous secret keeps signing (default 604800 = 7 days, at most 30 days)"`
}

type createInput struct{ Body WebhookCreateBody }

type listInput struct {
	ApplicationID string `query:"applicationId" doc:"Also list this application's webhooks (sessions list only org-level ones by default)"`
	All           bool   `query:"all" doc:"List every webhook of the organization (org-level and every application's)"`
}

type idInput struct {
	ID string `path:"id" doc:"Webhook id (wh_<uuid>)"`
}

type updateInput struct {
	ID   string `path:"id" doc:"Webhook id (wh_<uuid>)"`
	Body WebhookUpdateBody
}

type rotateInput struct {
	ID   string             `path:"id" doc:"Webhook id (wh_<uuid>)"`
	Body *WebhookRotateBody `required:"false"`
}

type deliveriesInput struct {
	ID    string `path:"id" doc:"Webhook id (wh_<uuid>)"`
	Limit string `query:"limit" doc:"Number of attempts, 1..100 (default 50)"`
}

type webhookOutput struct{ Body Webhook }

type createdOutput struct{ Body CreatedWebhook }

type listOutput struct{ Body httpapi.List[Webhook] }

type testOutput struct {
	Body struct {
		EventID string          `json:"eventId" doc:"evt_<uuid>"`
		Payload json.RawMessage `json:"payload" doc:"The test.ping envelope, exactly as delivered"`
	}
}

type rotateOutput struct {
	Body struct {
		Secret               string       `json:"secret" doc:"The new secret (whsec_…). Shown once."`
		SecretPrevious       string       `json:"secretPrevious" doc:"The previous secret, still signing until rotationWindowEndsAt"`
		RotationWindowEndsAt isotime.Time `json:"rotationWindowEndsAt" format:"date-time"`
	}
}

type deliveriesOutput struct{ Body httpapi.List[WebhookDelivery] }

// Deps are what the webhook routes need.
type Deps struct {
	Webhooks    *webhooks.Service
	Limiter     ratelimit.Limiter
	Idempotency idempotency.Store // Idempotency-Key on create (API.md §3.6); nil = not supported
	Logger      *slog.Logger
}

type handlers struct{ Deps }

// Register adds the 8 webhook routes of API.md §4.15 to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	rl := func(n int) func(huma.Context, func(huma.Context)) {
		return httpapi.RateLimit(d.Limiter, n, httpapi.ByCaller)
	}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests}
	httpapi.Register(api, httpapi.WithIdempotency(huma.Operation{
		OperationID: "createWebhook", Method: http.MethodPost, Path: "/api/webhooks",
		Summary: "Create a webhook", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Creates an org-level webhook (fires for every application) or an application-level one. API keys " +
			"may only create application-level webhooks for their own application. At most 20 per org scope and per " +
			"application (400 webhook_limit_reached). The signing secret is in this response only. Requires webhooks:write.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(createRate), httpapi.Require("webhooks:write")},
	}, d.Idempotency, d.Logger), h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "listWebhooks", Method: http.MethodGet, Path: "/api/webhooks",
		Summary: "List webhooks", Tags: tags,
		Description: "Sessions: the org-level webhooks, plus those of applicationId when given, or every webhook with " +
			"all=true. API keys: the webhooks of their application. Requires webhooks:read.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(readRate), httpapi.Require("webhooks:read")},
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "getWebhook", Method: http.MethodGet, Path: "/api/webhooks/{id}",
		Summary: "Get a webhook", Tags: tags, Errors: errs,
		Middlewares: huma.Middlewares{rl(readRate), httpapi.Require("webhooks:read")},
	}, h.get)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateWebhook", Method: http.MethodPut, Path: "/api/webhooks/{id}",
		Summary: "Update a webhook", Tags: tags,
		Description: "Changes the members present (url, events, packageId — null removes the filter —, payloadMode, " +
			"enabled). Requires webhooks:write.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(writeRate), httpapi.Require("webhooks:write")},
	}, h.update)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteWebhook", Method: http.MethodDelete, Path: "/api/webhooks/{id}",
		Summary: "Delete a webhook", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Deletes the webhook and its delivery history; queued deliveries are dropped. Requires webhooks:delete.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(writeRate), httpapi.Require("webhooks:delete")},
	}, h.delete)
	httpapi.Register(api, huma.Operation{
		OperationID: "testWebhook", Method: http.MethodPost, Path: "/api/webhooks/{id}/test",
		Summary: "Send a test event", Tags: tags,
		Description: "Delivers a signed test.ping event to the webhook (once, no retries, even when disabled; the attempt " +
			"appears in its deliveries) and returns its envelope. Upstream only built the envelope; this one is sent. " +
			"Requires webhooks:write.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(testRate), httpapi.Require("webhooks:write")},
	}, h.test)
	httpapi.Register(api, huma.Operation{
		OperationID: "rotateWebhookSecret", Method: http.MethodPost, Path: "/api/webhooks/{id}/rotate",
		Summary: "Rotate the signing secret", Tags: tags,
		Description: "Creates a new secret. Until rotationWindowEndsAt every delivery carries two signatures (previous " +
			"and new secret); the first delivery after it signs with the new secret only. Requires webhooks:write.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(rotateRate), httpapi.Require("webhooks:write")},
	}, h.rotate)
	httpapi.Register(api, huma.Operation{
		OperationID: "listWebhookDeliveries", Method: http.MethodGet, Path: "/api/webhooks/{id}/deliveries",
		Summary: "List delivery attempts", Tags: tags,
		Description: "The latest delivery attempts of the webhook, newest first (limit 1..100, default 50). Requires webhooks:read.",
		Errors:      errs,
		Middlewares: huma.Middlewares{rl(readRate), httpapi.Require("webhooks:read")},
	}, h.deliveries)
}

// scope is the caller's view: its organization, and for API keys their application.
func scope(p *auth.Principal) webhooks.Scope {
	sc := webhooks.Scope{OrgID: p.OrgID}
	if p.IsAPIKey() {
		sc.AppID = p.ApplicationID
	}
	return sc
}

func (h handlers) create(ctx context.Context, in *createInput) (*createdOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	b := in.Body
	nw := webhooks.NewWebhook{Level: b.Level, ApplicationID: b.ApplicationID, URL: b.URL, Events: b.Events,
		PayloadMode: b.PayloadMode, Enabled: b.Enabled}
	if b.PackageID != nil {
		nw.PackageID = *b.PackageID
	}
	c, err := h.Webhooks.Create(ctx, scope(p), nw, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &createdOutput{Body: CreatedWebhook{Webhook: toWire(c.Webhook), Secret: c.Secret}}, nil
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	list, err := h.Webhooks.List(ctx, scope(p), in.ApplicationID, in.All)
	if err != nil {
		return nil, problem(err)
	}
	items := make([]Webhook, 0, len(list))
	for _, w := range list {
		items = append(items, toWire(w))
	}
	return &listOutput{Body: httpapi.NewList(items, false)}, nil
}

func (h handlers) get(ctx context.Context, in *idInput) (*webhookOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	w, err := h.Webhooks.Get(ctx, scope(p), in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &webhookOutput{Body: toWire(w)}, nil
}

func (h handlers) update(ctx context.Context, in *updateInput) (*webhookOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	sc := scope(p)
	b := in.Body
	if b.Level != nil || b.ApplicationID != nil {
		cur, err := h.Webhooks.Get(ctx, sc, in.ID)
		if err != nil {
			return nil, problem(err)
		}
		if b.Level != nil && *b.Level != cur.Level {
			return nil, problem(&webhooks.ValidationError{Field: "level", Code: "invalid_value", Message: "cannot be changed; create a new webhook"})
		}
		if b.ApplicationID != nil && *b.ApplicationID != cur.ApplicationID {
			return nil, problem(&webhooks.ValidationError{Field: "applicationId", Code: "invalid_value", Message: "cannot be changed; create a new webhook"})
		}
	}
	patch := webhooks.Patch{URL: b.URL, Events: b.Events, PayloadMode: b.PayloadMode, Enabled: b.Enabled}
	if b.PackageID.Set {
		if b.PackageID.Value == nil || *b.PackageID.Value == "" {
			patch.ClearPackage = true
		} else {
			patch.PackageID = b.PackageID.Value
		}
	}
	w, err := h.Webhooks.Update(ctx, sc, in.ID, patch, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &webhookOutput{Body: toWire(w)}, nil
}

func (h handlers) delete(ctx context.Context, in *idInput) (*struct{}, error) {
	p, _ := auth.PrincipalFrom(ctx)
	if err := h.Webhooks.Delete(ctx, scope(p), in.ID, auditActor(ctx, p)); err != nil {
		return nil, problem(err)
	}
	return nil, nil
}

func (h handlers) test(ctx context.Context, in *idInput) (*testOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	ev, err := h.Webhooks.SendTest(ctx, scope(p), in.ID)
	if err != nil {
		return nil, problem(err)
	}
	out := &testOutput{}
	out.Body.EventID, out.Body.Payload = ev.EventID, ev.Payload
	return out, nil
}

func (h handlers) rotate(ctx context.Context, in *rotateInput) (*rotateOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	var window *time.Duration
	if in.Body != nil && in.Body.WindowSeconds != nil {
		d := time.Duration(*in.Body.WindowSeconds) * time.Second
		window = &d
	}
	r, err := h.Webhooks.Rotate(ctx, scope(p), in.ID, window, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	out := &rotateOutput{}
	out.Body.Secret, out.Body.SecretPrevious, out.Body.RotationWindowEndsAt = r.Secret, r.Previous, r.WindowEndsAt
	return out, nil
}

func (h handlers) deliveries(ctx context.Context, in *deliveriesInput) (*deliveriesOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	list, hasMore, err := h.Webhooks.Deliveries(ctx, scope(p), in.ID, httpapi.ParseLimit(in.Limit, webhooks.DefaultDeliveryLimit))
	if err != nil {
		return nil, problem(err)
	}
	items := make([]WebhookDelivery, 0, len(list))
	for _, d := range list {
		items = append(items, WebhookDelivery{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status,
			StatusCode: d.StatusCode, Latency: d.Latency, Attempt: d.Attempt, Error: d.Error, CreatedAt: d.CreatedAt})
	}
	return &deliveriesOutput{Body: httpapi.NewList(items, hasMore)}, nil
}

// problem maps the service errors onto API problems; others pass through (→ 500).
func problem(err error) error {
	var v *webhooks.ValidationError
	switch {
	case errors.As(err, &v):
		return httpapi.BadRequest("validation_failed", v.Field+": "+v.Message).
			WithErrors(httpapi.FieldError{Field: v.Field, Code: v.Code, Message: v.Message})
	case errors.Is(err, webhooks.ErrNotFound):
		return httpapi.NotFound("Webhook not found")
	case errors.Is(err, webhooks.ErrApplicationNotFound):
		return httpapi.NotFound("Application not found").WithParam("applicationId")
	case errors.Is(err, webhooks.ErrLimitReached):
		return httpapi.BadRequest("webhook_limit_reached", "Maximum of 20 webhooks reached for this scope")
	case errors.Is(err, webhooks.ErrForbiddenScope):
		return httpapi.Forbidden("API keys can only manage application-level webhooks of their own application")
	}
	return err
}

// auditActor is the audit event template of the caller.
func auditActor(ctx context.Context, p *auth.Principal) audit.Event {
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx)}
	if p.IsAPIKey() {
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	} else {
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	return ev
}

// optString is a body member that remembers whether it was sent: absent (Set false), null (Set true,
// Value nil) or a string.
type optString struct {
	Set   bool
	Value *string
}

// UnmarshalJSON is called for every present member, null included.
func (o *optString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
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
func (optString) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true,
		Description: "Only runs of this agent (@scope/name); null removes the filter"}
}
