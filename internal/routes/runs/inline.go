package runs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/runs"
)

// registerInline adds POST /api/runs/inline and POST /api/runs/inline/validate (API.md §4.8).
func registerInline(api huma.API, h handlers) {
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}
	rate := h.Runs.Inline.RatePerMin
	if rate <= 0 {
		rate = 60
	}
	const caps = "Caps (INLINE_RUN_LIMITS): the manifest at most max_manifest_bytes (64 KiB), the prompt at most " +
		"max_prompt_bytes (200000), at most max_skills (20) skills and max_tools (20) tools in `dependencies`, at most " +
		"max_authorized_uris (50) entries across `providersConfiguration.<provider>.authorizedUris`, and unless " +
		"wildcard_uri_allowed no wildcard host and no `allowAllUris`. The manifest must be a valid AFPS agent manifest; " +
		"its `name` is replaced by the shadow package id, `type` and `version` default to \"agent\" and \"0.0.0\". " +
		"Every problem is reported as 400 `validation_failed` naming its field (`manifest.<path>`, `prompt`, " +
		"`input.<field>`); config problems as 400 `invalid_config`; provider readiness with its code."
	httpapi.Register(api, httpapi.WithIdempotency(huma.Operation{
		OperationID: "createInlineRun", Method: http.MethodPost, Path: "/api/runs/inline",
		Summary: "Run an ad-hoc agent", Tags: tags, DefaultStatus: http.StatusAccepted,
		Description: "Runs a manifest and a prompt given in the request, without installing an agent: they are kept " +
			"as an ephemeral package `@inline/r-<uuid>` (hidden from package lists, deleted after " +
			"INLINE_RUN_LIMITS.retention_days once its run ended), and the run is admitted, created and executed " +
			"exactly as an agent run. " + caps,
		Errors:      append(errs, http.StatusTooManyRequests, http.StatusConflict, http.StatusUnprocessableEntity),
		Middlewares: huma.Middlewares{httpapi.RateLimit(h.Limiter, rate, httpapi.ByCaller), httpapi.Require("agents:run")},
	}, h.Idempotency, h.Logger), h.inline)
	httpapi.Register(api, huma.Operation{
		OperationID: "validateInlineRun", Method: http.MethodPost, Path: "/api/runs/inline/validate",
		Summary: "Check an ad-hoc agent run", Tags: tags,
		Description: "The preflight of POST /api/runs/inline — caps, manifest, prompt, input, config and provider " +
			"readiness — without creating anything and without counting against the organization's run limits: " +
			"`{ok:true}`, or the errors the run would get. " + caps,
		Errors:      errs,
		Middlewares: huma.Middlewares{httpapi.Require("agents:run")},
	}, h.validateInline)
}

// inlineBody is the body of both inline routes.
type inlineBody struct {
	Manifest json.RawMessage `json:"manifest" doc:"The agent manifest (a JSON object)"`
	Prompt   string          `json:"prompt" doc:"prompt.md, the agent's mission (Mustache from schemaVersion 1.1)"`
	Input    json.RawMessage `json:"input,omitempty" required:"false" doc:"Validated against the manifest's input schema"`
	Config   json.RawMessage `json:"config,omitempty" required:"false" doc:"Over the defaults of the manifest's config schema"`
	ModelID  *string         `json:"modelId,omitempty" required:"false"`
	ProxyID  *string         `json:"proxyId,omitempty" required:"false"`
	_        struct{}        `additionalProperties:"true"`
}

func (b inlineBody) params() runs.InlineParams {
	return runs.InlineParams{Manifest: b.Manifest, Prompt: b.Prompt, Input: b.Input, Config: b.Config,
		ModelID: b.ModelID, ProxyID: b.ProxyID}
}

type inlineInput struct {
	Body inlineBody
}

type inlineOutput struct {
	Body struct {
		RunID     string `json:"runId"`
		PackageID string `json:"packageId" doc:"The run's ephemeral package, @inline/r-<uuid>"`
	}
}

func (h handlers) inline(ctx context.Context, in *inlineInput) (*inlineOutput, error) {
	r, err := h.Runs.CreateInline(ctx, callerOf(ctx), in.Body.params())
	if err != nil {
		return nil, inlineProblem(err)
	}
	out := &inlineOutput{}
	out.Body.RunID, out.Body.PackageID = r.RunID, r.PackageID
	return out, nil
}

func (h handlers) validateInline(ctx context.Context, in *inlineInput) (*okOutput, error) {
	if err := h.Runs.ValidateInline(ctx, callerOf(ctx), in.Body.params()); err != nil {
		return nil, inlineProblem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

// inlineProblem maps the caps and manifest problems onto 400 validation_failed, the rest as for agent runs.
func inlineProblem(err error) error {
	var ie *runs.InlineError
	if !errors.As(err, &ie) {
		return problem(err)
	}
	fields := make([]httpapi.FieldError, 0, len(ie.Issues))
	for _, is := range ie.Issues {
		fields = append(fields, httpapi.FieldError{Field: is.Field, Code: is.Code, Message: is.Message})
	}
	detail := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		detail += " (+" + strconv.Itoa(len(fields)-1) + " more)"
	}
	return httpapi.BadRequest("validation_failed", detail).WithErrors(fields...)
}
