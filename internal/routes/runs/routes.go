package runs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/idempotency"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/uploads"
)

var tags = []string{"Runs"}

// Deps are what the run routes need.
type Deps struct {
	Runs        *runs.Service
	Limiter     ratelimit.Limiter
	Idempotency idempotency.Store
	AppURL      string
	Logger      *slog.Logger
}

type handlers struct{ Deps }

// Register adds the run routes to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	httpapi.Register(api, httpapi.WithIdempotency(huma.Operation{
		OperationID: "runAgent", Method: http.MethodPost, Path: "/api/agents/{scope}/{name}/run",
		Summary: "Run an agent", Tags: tags,
		Description: "Validates the input and config, checks provider readiness and the organization's run limits, " +
			"creates the run `pending` and returns its id at once; the run executes asynchronously. File inputs take " +
			"`upload://upl_…` URIs (POST /api/uploads), each used by one run only: 409 `upload_consumed` when already " +
			"used, 410 `upload_expired`, 404 when unknown, 400 when the field's fileConstraints refuse its type or size. " +
			"20 requests per minute per caller; the organization's limits answer 429 `org_run_rate_limited` or " +
			"`org_run_concurrency_exceeded` with Retry-After.",
		Errors:      append(errs, http.StatusTooManyRequests, http.StatusConflict, http.StatusGone, http.StatusUnprocessableEntity),
		Middlewares: huma.Middlewares{httpapi.RateLimit(d.Limiter, 20, httpapi.ByCaller), httpapi.Require("agents:run")},
	}, d.Idempotency, d.Logger), h.run)
	httpapi.Register(api, huma.Operation{
		OperationID: "listAgentRuns", Method: http.MethodGet, Path: "/api/agents/{scope}/{name}/runs",
		Summary: "List the runs of an agent", Tags: tags, Errors: errs,
	}, h.listAgent)
	httpapi.Register(api, huma.Operation{
		OperationID: "listRuns", Method: http.MethodGet, Path: "/api/runs",
		Summary: "List the runs of the application", Tags: tags, Errors: errs,
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "getRun", Method: http.MethodGet, Path: "/api/runs/{id}",
		Summary: "Get a run", Tags: tags, Errors: errs,
	}, h.get)
	httpapi.Register(api, huma.Operation{
		OperationID: "getRunLogs", Method: http.MethodGet, Path: "/api/runs/{id}/logs",
		Summary: "Log rows of a run", Tags: tags, Errors: errs,
	}, h.logs)
	httpapi.Register(api, huma.Operation{
		OperationID: "cancelRun", Method: http.MethodPost, Path: "/api/runs/{id}/cancel",
		Summary: "Cancel a run", Tags: tags, Errors: append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{httpapi.Require("runs:cancel")},
	}, h.cancel)
	httpapi.Register(api, huma.Operation{
		OperationID: "deleteRun", Method: http.MethodDelete, Path: "/api/runs/{id}",
		Summary: "Delete a terminal run", Tags: tags, DefaultStatus: http.StatusNoContent, Errors: append(errs, http.StatusConflict),
		Middlewares: huma.Middlewares{httpapi.Require("runs:delete")},
	}, h.delete)
	registerInline(api, h)
	registerRemote(api, h)
	registerSink(api, h)
}

func callerOf(ctx context.Context) runs.Caller {
	p, _ := auth.PrincipalFrom(ctx)
	return runs.Caller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, EndUserID: p.EndUserID, APIKeyID: p.APIKeyID}
}

type runInput struct {
	Scope   string `path:"scope"`
	Name    string `path:"name"`
	Version string `query:"version" doc:"Run this published version instead of the draft"`
	Timeout int    `query:"timeout" minimum:"0" doc:"Timeout in seconds (capped by the platform ceiling)"`
	Body    struct {
		Input   map[string]any `json:"input,omitempty" required:"false"`
		Config  map[string]any `json:"config,omitempty" required:"false"`
		ModelID *string        `json:"modelId,omitempty" required:"false"`
		ProxyID *string        `json:"proxyId,omitempty" required:"false"`
	}
}

type runOutput struct {
	Body struct {
		RunID string `json:"runId"`
	}
}

func (h handlers) run(ctx context.Context, in *runInput) (*runOutput, error) {
	p := runs.CreateParams{AgentID: in.Scope + "/" + in.Name, Version: in.Version, TimeoutSeconds: in.Timeout,
		ModelID: in.Body.ModelID, ProxyID: in.Body.ProxyID}
	var err error
	if in.Body.Input != nil {
		if p.Input, err = marshal(in.Body.Input); err != nil {
			return nil, err
		}
	}
	if in.Body.Config != nil {
		if p.Config, err = marshal(in.Body.Config); err != nil {
			return nil, err
		}
	}
	id, err := h.Runs.Create(ctx, callerOf(ctx), p)
	if err != nil {
		return nil, problem(err)
	}
	out := &runOutput{}
	out.Body.RunID = id
	return out, nil
}

type agentRunsInput struct {
	Scope  string `path:"scope"`
	Name   string `path:"name"`
	Limit  string `query:"limit"`
	Offset string `query:"offset"`
	Status string `query:"status"`
}

type listInput struct {
	Limit  string `query:"limit"`
	Offset string `query:"offset"`
	Status string `query:"status"`
	User   string `query:"user" doc:"me = only the caller's runs"`
	Kind   string `query:"kind" enum:"inline,package,all" doc:"inline = ad-hoc runs (POST /api/runs/inline), package = runs of agents; default all"`
}

type listOutput struct {
	Link string `header:"Link"`
	Body httpapi.List[*runs.Run]
}

func (h handlers) listAgent(ctx context.Context, in *agentRunsInput) (*listOutput, error) {
	return h.page(ctx, runs.ListQuery{AgentID: in.Scope + "/" + in.Name, Status: in.Status}, in.Limit, in.Offset, 50,
		"/api/agents/"+in.Scope+"/"+in.Name+"/runs")
}

func (h handlers) list(ctx context.Context, in *listInput) (*listOutput, error) {
	q := runs.ListQuery{Status: in.Status, Kind: in.Kind}
	if in.User == "me" {
		p, _ := auth.PrincipalFrom(ctx)
		q.OnlyUserID = p.UserID
	}
	return h.page(ctx, q, in.Limit, in.Offset, 20, "/api/runs")
}

func (h handlers) page(ctx context.Context, q runs.ListQuery, limit, offset string, def int, path string) (*listOutput, error) {
	q.Limit, q.Offset = httpapi.ParseLimit(limit, def), httpapi.ParseOffset(offset)
	items, total, err := h.Runs.List(ctx, callerOf(ctx), q)
	if err != nil {
		return nil, err
	}
	pg := httpapi.Page{Limit: q.Limit, Offset: q.Offset, Total: total}
	out := &listOutput{Body: httpapi.NewList(items, pg.HasMore(len(items)))}
	out.Body.Total = &total
	if u, err := url.Parse(h.AppURL + path); err == nil {
		out.Link = httpapi.OffsetLinks(u, pg)
	}
	return out, nil
}

type idInput struct {
	ID string `path:"id"`
}

type runBody struct{ Body *runs.Run }

func (h handlers) get(ctx context.Context, in *idInput) (*runBody, error) {
	r, err := h.Runs.Get(ctx, callerOf(ctx), in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &runBody{Body: r}, nil
}

type logsInput struct {
	ID    string `path:"id"`
	Since string `query:"since" doc:"Only log rows with a greater id"`
}

type logsOutput struct{ Body []runs.Log }

func (h handlers) logs(ctx context.Context, in *logsInput) (*logsOutput, error) {
	since, _ := strconv.ParseInt(in.Since, 10, 64)
	l, err := h.Runs.Logs(ctx, callerOf(ctx), in.ID, max(since, 0))
	if err != nil {
		return nil, problem(err)
	}
	return &logsOutput{Body: l}, nil
}

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func (h handlers) cancel(ctx context.Context, in *idInput) (*okOutput, error) {
	if err := h.Runs.Cancel(ctx, callerOf(ctx), in.ID); err != nil {
		return nil, problem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

func (h handlers) delete(ctx context.Context, in *idInput) (*struct{}, error) {
	if err := h.Runs.Delete(ctx, callerOf(ctx), in.ID); err != nil {
		return nil, problem(err)
	}
	return nil, nil
}

func problem(err error) error {
	var ve *runs.ValidationError
	var nr *runs.NotReadyError
	var le *runs.LimitError
	var re *runs.RequestError
	var ue *runs.UploadError
	switch {
	case errors.As(err, &ue):
		return uploadProblem(ue)
	case errors.As(err, &ve):
		fields := make([]httpapi.FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			fields = append(fields, httpapi.FieldError{Field: f.Path, Code: ve.Code, Message: f.Message})
		}
		code, detail := "validation_failed", "Input does not match the agent's input schema"
		if ve.Code == "invalid_config" {
			code, detail = "invalid_config", "Config does not match the agent's config schema"
		}
		return httpapi.BadRequest(code, detail).WithErrors(fields...)
	case errors.As(err, &nr):
		return httpapi.BadRequest(nr.Code, nr.Message)
	case errors.As(err, &le):
		return admissionProblem(le)
	case errors.Is(err, runs.ErrAgentNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "agent_not_found", "Agent not found")
	case errors.Is(err, runs.ErrVersionNotFound):
		return httpapi.NotFound("Version not found")
	case errors.Is(err, runs.ErrRunNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "run_not_found", "Run not found")
	case errors.Is(err, runs.ErrNotCancellable):
		return httpapi.Conflict("not_cancellable", "Run is not pending or running")
	case errors.Is(err, runs.ErrInProgress):
		return httpapi.Conflict("run_in_progress", "Run is still in progress")
	case errors.Is(err, runs.ErrIntegrityMismatch):
		return httpapi.Conflict("integrity_mismatch", "The integrity does not match the resolved version")
	case errors.As(err, &re):
		return httpapi.BadRequest("invalid_request", re.Error()).WithParam(re.Field)
	case errors.Is(err, runs.ErrSinkNotFound), errors.Is(err, runs.ErrSinkClosed), errors.Is(err, runs.ErrSinkExpired):
		return sinkProblem(err)
	}
	return err
}

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

// admissionProblem is the 429 of an organization limit. The rate limit's headers describe the organization's
// budget (API.md §3.5); the concurrency limit has no window: its refusal keeps the route's RateLimit headers
// and says when to retry.
func admissionProblem(le *runs.LimitError) *httpapi.Problem {
	p := httpapi.NewProblem(http.StatusTooManyRequests, le.Code, le.Message)
	if le.Window <= 0 {
		return p.WithRetryAfter(le.RetryAfter)
	}
	return p.WithRateLimit(httpapi.RateLimitState{Limit: le.Limit, Reset: time.Duration(le.RetryAfter) * time.Second, Window: le.Window})
}

// uploadProblem maps a file input the run cannot take (API.md §4.13): a used upload 409 upload_consumed, an
// expired one 410 upload_expired, an unknown one 404, anything else 400 validation_failed on the field.
func uploadProblem(ue *runs.UploadError) *httpapi.Problem {
	switch {
	case errors.Is(ue.Err, uploads.ErrConsumed):
		return httpapi.NewProblem(http.StatusConflict, "upload_consumed", ue.Error()+" (an upload is used by one run only)")
	case errors.Is(ue.Err, uploads.ErrExpired):
		return httpapi.NewProblem(http.StatusGone, "upload_expired", ue.Error())
	case errors.Is(ue.Err, uploads.ErrNotFound):
		return httpapi.NotFound(ue.Error())
	}
	return httpapi.BadRequest("validation_failed", ue.Error()).
		WithErrors(httpapi.FieldError{Field: ue.Field, Code: "invalid_input", Message: ue.Message})
}
