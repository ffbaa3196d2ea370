package schedules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/schedules"
)

var tags = []string{"Schedules"}

// createRate is the POST limit per caller and minute (API.md §4.10).
const createRate = 10

// defaultRunsLimit is the page size of GET /api/schedules/{id}/runs.
const defaultRunsLimit = 20

// Deps are what the schedule routes need.
type Deps struct {
	Schedules *schedules.Service
	Limiter   ratelimit.Limiter
	AppURL    string
}

type handlers struct{ Deps }

// Register adds the 7 schedule routes to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	read := huma.Middlewares{httpapi.Require("schedules:read")}
	httpapi.Register(api, huma.Operation{
		OperationID: "listSchedules", Method: http.MethodGet, Path: "/api/schedules",
		Summary: "List the schedules of the application", Tags: tags, Errors: errs, Middlewares: read,
		Description: "Every schedule of the application, oldest first, with its connection profile and the readiness " +
			"of its agent on that profile.",
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "listAgentSchedules", Method: http.MethodGet, Path: "/api/agents/{scope}/{name}/schedules",
		Summary: "List the schedules of an agent", Tags: tags, Errors: errs, Middlewares: read,
	}, h.listAgent)
	httpapi.Register(api, huma.Operation{
		OperationID: "createSchedule", Method: http.MethodPost, Path: "/api/agents/{scope}/{name}/schedules",
		Summary: "Schedule an agent", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Runs the agent on a cron expression (five fields, or @hourly, @daily, @weekly, @monthly, " +
			"@yearly) evaluated in an IANA time zone, as the owner of the connection profile, which must be the " +
			"caller's or an application profile (else 403). The input and overrides are frozen; the input is " +
			"validated now against the agent's input schema and again at each fire. Agents with file inputs cannot " +
			"be scheduled. Requires schedules:write.",
		Errors:      append(errs, http.StatusTooManyRequests),
		Middlewares: huma.Middlewares{httpapi.RateLimit(d.Limiter, createRate, httpapi.ByCaller), httpapi.Require("schedules:write")},
	}, h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "getSchedule", Method: http.MethodGet, Path: "/api/schedules/{id}",
		Summary: "Get a schedule", Tags: tags, Errors: errs, Middlewares: read,
	}, h.get)
	httpapi.Register(api, huma.Operation{
		OperationID: "updateSchedule", Method: http.MethodPut, Path: "/api/schedules/{id}",
		Summary: "Update, pause or resume a schedule", Tags: tags, Errors: errs,
		Description: "Changes the members present; null clears name and the overrides. enabled false pauses the " +
			"schedule (nextRunAt null), true resumes it from now. Requires schedules:write.",
		Middlewares: huma.Middlewares{httpapi.Require("schedules:write")},
	}, h.update)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteSchedule", Method: http.MethodDelete, Path: "/api/schedules/{id}",
		Summary: "Delete a schedule", Tags: tags, Errors: errs,
		Description: "Its runs are kept (without their schedule). Requires schedules:delete.",
		Middlewares: huma.Middlewares{httpapi.Require("schedules:delete")},
	}, h.delete)
	httpapi.Register(api, huma.Operation{
		OperationID: "listScheduleRuns", Method: http.MethodGet, Path: "/api/schedules/{id}/runs",
		Summary: "List the runs a schedule fired", Tags: tags, Errors: errs, Middlewares: read,
		Description: "Newest first, offset pagination (limit 1..100, default 20) with a Link header.",
	}, h.runs)
}

func callerOf(ctx context.Context) (runs.Caller, *auth.Principal) {
	p, _ := auth.PrincipalFrom(ctx)
	return runs.Caller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, EndUserID: p.EndUserID, APIKeyID: p.APIKeyID}, p
}

// ScheduleCreateBody is the body of POST /api/agents/{scope}/{name}/schedules.
type ScheduleCreateBody struct {
	Name                *string        `json:"name,omitempty" maxLength:"200" nullable:"true"`
	ConnectionProfileID string         `json:"connectionProfileId" doc:"The caller's connection profile or an application profile (uuid)"`
	CronExpression      string         `json:"cronExpression" minLength:"1" maxLength:"512" example:"0 9 * * MON-FRI"`
	Timezone            string         `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone (default UTC)" example:"Europe/Paris"`
	Input               map[string]any `json:"input,omitempty" doc:"The run input, validated against the agent's input schema"`
	ConfigOverride      map[string]any `json:"configOverride,omitempty" nullable:"true" doc:"Deep-merged over the installation's config at each fire"`
	ModelIDOverride     *string        `json:"modelIdOverride,omitempty" nullable:"true"`
	ProxyIDOverride     *string        `json:"proxyIdOverride,omitempty" nullable:"true"`
	VersionOverride     *string        `json:"versionOverride,omitempty" nullable:"true" doc:"A published version or dist-tag of the agent"`
}

// ScheduleUpdateBody is the body of PUT /api/schedules/{id}: only the members present change.
type ScheduleUpdateBody struct {
	Name                optional[string]         `json:"name,omitempty"`
	ConnectionProfileID *string                  `json:"connectionProfileId,omitempty"`
	CronExpression      *string                  `json:"cronExpression,omitempty" minLength:"1" maxLength:"512"`
	Timezone            *string                  `json:"timezone,omitempty" maxLength:"64"`
	Input               map[string]any           `json:"input,omitempty"`
	ConfigOverride      optional[map[string]any] `json:"configOverride,omitempty"`
	ModelIDOverride     optional[string]         `json:"modelIdOverride,omitempty"`
	ProxyIDOverride     optional[string]         `json:"proxyIdOverride,omitempty"`
	VersionOverride     optional[string]         `json:"versionOverride,omitempty"`
	Enabled             *bool                    `json:"enabled,omitempty" doc:"false pauses the schedule, true resumes it"`
}

type agentInput struct {
	Scope string `path:"scope"`
	Name  string `path:"name"`
}

type createInput struct {
	Scope string `path:"scope"`
	Name  string `path:"name"`
	Body  ScheduleCreateBody
}

type idInput struct {
	ID string `path:"id" doc:"sched_<uuid>"`
}

type updateInput struct {
	ID   string `path:"id" doc:"sched_<uuid>"`
	Body ScheduleUpdateBody
}

type runsInput struct {
	ID     string `path:"id" doc:"sched_<uuid>"`
	Limit  string `query:"limit"`
	Offset string `query:"offset"`
}

type listOutput struct{ Body []schedules.ScheduleDetail }

type detailOutput struct{ Body *schedules.ScheduleDetail }

type scheduleOutput struct{ Body *schedules.Schedule }

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

type runsOutput struct {
	Link string `header:"Link"`
	Body httpapi.List[*runs.Run]
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*listOutput, error) {
	c, _ := callerOf(ctx)
	list, err := h.Schedules.List(ctx, c, "")
	if err != nil {
		return nil, problem(err)
	}
	return &listOutput{Body: list}, nil
}

func (h handlers) listAgent(ctx context.Context, in *agentInput) (*listOutput, error) {
	c, _ := callerOf(ctx)
	list, err := h.Schedules.List(ctx, c, in.Scope+"/"+in.Name)
	if err != nil {
		return nil, problem(err)
	}
	return &listOutput{Body: list}, nil
}

func (h handlers) create(ctx context.Context, in *createInput) (*scheduleOutput, error) {
	c, p := callerOf(ctx)
	b := in.Body
	params := schedules.Params{Name: b.Name, ConnectionProfileID: b.ConnectionProfileID, CronExpression: b.CronExpression,
		Timezone: b.Timezone, ModelIDOverride: b.ModelIDOverride, ProxyIDOverride: b.ProxyIDOverride,
		VersionOverride: b.VersionOverride}
	var err error
	if params.Input, err = encodeObject(b.Input); err != nil {
		return nil, err
	}
	if params.ConfigOverride, err = encodeObject(b.ConfigOverride); err != nil {
		return nil, err
	}
	sc, err := h.Schedules.Create(ctx, c, in.Scope+"/"+in.Name, params, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &scheduleOutput{Body: sc}, nil
}

func (h handlers) get(ctx context.Context, in *idInput) (*detailOutput, error) {
	c, _ := callerOf(ctx)
	d, err := h.Schedules.Get(ctx, c, in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &detailOutput{Body: d}, nil
}

func (h handlers) update(ctx context.Context, in *updateInput) (*scheduleOutput, error) {
	c, p := callerOf(ctx)
	b := in.Body
	patch := schedules.Patch{Name: b.Name.opt(), ConnectionProfileID: b.ConnectionProfileID, CronExpression: b.CronExpression,
		Timezone: b.Timezone, ModelIDOverride: b.ModelIDOverride.opt(), ProxyIDOverride: b.ProxyIDOverride.opt(),
		VersionOverride: b.VersionOverride.opt(), Enabled: b.Enabled}
	var err error
	if patch.Input, err = encodeObject(b.Input); err != nil {
		return nil, err
	}
	if b.ConfigOverride.Set {
		patch.ConfigOverride.Set = true
		if b.ConfigOverride.Value != nil {
			raw, err := encodeObject(*b.ConfigOverride.Value)
			if err != nil {
				return nil, err
			}
			patch.ConfigOverride.Value = &raw
		}
	}
	sc, err := h.Schedules.Update(ctx, c, in.ID, patch, auditActor(ctx, p))
	if err != nil {
		return nil, problem(err)
	}
	return &scheduleOutput{Body: sc}, nil
}

func (h handlers) delete(ctx context.Context, in *idInput) (*okOutput, error) {
	c, p := callerOf(ctx)
	if err := h.Schedules.Delete(ctx, c, in.ID, auditActor(ctx, p)); err != nil {
		return nil, problem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

func (h handlers) runs(ctx context.Context, in *runsInput) (*runsOutput, error) {
	c, _ := callerOf(ctx)
	pg := httpapi.Page{Limit: httpapi.ParseLimit(in.Limit, defaultRunsLimit), Offset: httpapi.ParseOffset(in.Offset)}
	items, total, err := h.Schedules.ListRuns(ctx, c, in.ID, pg.Limit, pg.Offset)
	if err != nil {
		return nil, problem(err)
	}
	pg.Total = total
	out := &runsOutput{Body: httpapi.NewList(items, pg.HasMore(len(items)))}
	out.Body.Total = &total
	if u, err := url.Parse(h.AppURL + "/api/schedules/" + url.PathEscape(in.ID) + "/runs"); err == nil {
		out.Link = httpapi.OffsetLinks(u, pg)
	}
	return out, nil
}

// problem maps the service errors onto API problems; others pass through (→ 500).
func problem(err error) error {
	var ve *schedules.ValidationError
	switch {
	case errors.As(err, &ve):
		fields := make([]httpapi.FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			fields = append(fields, httpapi.FieldError{Field: f.Path, Code: f.Code, Message: f.Message})
		}
		detail := "Invalid schedule"
		if len(fields) > 0 {
			detail = fields[0].Field + ": " + fields[0].Message
			if len(fields) > 1 {
				detail += " (+" + strconv.Itoa(len(fields)-1) + " more)"
			}
		}
		return httpapi.BadRequest("validation_failed", detail).WithErrors(fields...)
	case errors.Is(err, schedules.ErrNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "schedule_not_found", "Schedule not found")
	case errors.Is(err, schedules.ErrAgentNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "agent_not_found", "Agent not found")
	case errors.Is(err, schedules.ErrProfileForbidden):
		return httpapi.Forbidden("The connection profile must be yours or an application profile of this application").
			WithParam("connectionProfileId")
	}
	return err
}

// auditActor is the audit event template of the caller.
func auditActor(ctx context.Context, p *auth.Principal) audit.Event {
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx)}
	switch {
	case p.IsAPIKey():
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	default:
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	return ev
}

// encodeObject encodes a JSON object member (nil stays nil).
func encodeObject(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, httpapi.BadRequest("invalid_request", "Cannot encode the object")
	}
	return raw, nil
}

// optional is a body member that remembers whether it was sent: absent, null (Value nil) or a value.
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o optional[T]) opt() schedules.Opt[T] { return schedules.Opt[T]{Set: o.Set, Value: o.Value} }

// UnmarshalJSON is called for every present member, null included.
func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

// Schema documents the member as its type or null.
func (optional[T]) Schema(r huma.Registry) *huma.Schema {
	s := *r.Schema(reflect.TypeFor[T](), false, "")
	s.Nullable = true
	return &s
}
