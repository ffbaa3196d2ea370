package runs

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// registerRemote adds POST /api/runs/remote and PATCH /api/runs/{runId}/sink/extend (API.md §4.8).
func registerRemote(api huma.API, h handlers) {
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	httpapi.Register(api, httpapi.WithIdempotency(huma.Operation{
		OperationID: "createRemoteRun", Method: http.MethodPost, Path: "/api/runs/remote",
		Summary: "Register a remote run", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "For a runner that executes the agent itself (the CLI): creates the run `pending` with an event " +
			"sink and returns the sink's URLs and secret (shown once). The run becomes `running` with its first event " +
			"and ends with the runner's finalize, or fails when the runner stops reporting. The source is a registry " +
			"agent (`stage` draft or published, `spec` a version, dist-tag or range, `integrity` checked against the " +
			"resolved version) or an inline manifest and prompt. `contextSnapshot` ≤ 16 KiB; `sink.ttlSeconds` ≤ 86400.",
		Errors:      append(errs, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests),
		Middlewares: huma.Middlewares{httpapi.RateLimit(h.Limiter, 200, httpapi.ByCaller), httpapi.Require("agents:run")},
	}, h.Idempotency, h.Logger), h.remote)
	httpapi.Register(api, huma.Operation{
		OperationID: "extendRunSink", Method: http.MethodPatch, Path: "/api/runs/{runId}/sink/extend",
		Summary: "Extend a run's sink", Tags: tags,
		Description: "Pushes the expiry of the run's open sink to now + ttlSeconds (capped at " +
			"REMOTE_RUN_SINK_MAX_TTL_SECONDS) and counts as a heartbeat. 410 `run_sink_closed` once the run finalized.",
		Errors:      append(errs, http.StatusGone, http.StatusTooManyRequests),
		Middlewares: huma.Middlewares{httpapi.RateLimit(h.Limiter, 30, httpapi.ByCaller), httpapi.Require("agents:run")},
	}, h.extend)
}

// RemoteRunSource is the source of a remote run.
type RemoteRunSource struct {
	Kind      string          `json:"kind" enum:"registry,inline"`
	PackageID string          `json:"packageId,omitempty" required:"false" doc:"registry: @scope/name"`
	Stage     string          `json:"stage,omitempty" required:"false" enum:"draft,published"`
	Spec      string          `json:"spec,omitempty" required:"false" doc:"registry: version, dist-tag or range"`
	Integrity string          `json:"integrity,omitempty" required:"false" doc:"registry: sha256-… of the version"`
	Manifest  json.RawMessage `json:"manifest,omitempty" required:"false" doc:"inline: the agent manifest (≤ 64 KiB)"`
	Prompt    string          `json:"prompt,omitempty" required:"false" doc:"inline: prompt.md (≤ 200000 bytes)"`
	_         struct{}        `additionalProperties:"true"`
}

type remoteInput struct {
	RunnerName string `header:"X-Appstrate-Runner-Name" doc:"Shown on the run (≤ 120 characters)"`
	RunnerKind string `header:"X-Appstrate-Runner-Kind" doc:"e.g. cli (^[a-z0-9]([a-z0-9-]*[a-z0-9])?$, ≤ 32)"`
	Body       struct {
		Source          RemoteRunSource `json:"source"`
		ApplicationID   string          `json:"applicationId"`
		Input           json.RawMessage `json:"input,omitempty" required:"false"`
		ContextSnapshot json.RawMessage `json:"contextSnapshot,omitempty" required:"false"`
		Sink            *struct {
			TTLSeconds int `json:"ttlSeconds,omitempty" required:"false"`
		} `json:"sink,omitempty" required:"false"`
		_ struct{} `additionalProperties:"true"`
	}
}

type remoteOutput struct {
	Body struct {
		RunID       string       `json:"runId"`
		URL         string       `json:"url"`
		FinalizeURL string       `json:"finalizeUrl"`
		Secret      string       `json:"secret"`
		ExpiresAt   isotime.Time `json:"expiresAt"`
	}
}

func (h handlers) remote(ctx context.Context, in *remoteInput) (*remoteOutput, error) {
	b := in.Body
	p := runs.RemoteParams{ApplicationID: b.ApplicationID, Input: b.Input, ContextSnapshot: b.ContextSnapshot,
		RunnerName: in.RunnerName, RunnerKind: in.RunnerKind,
		Source: runs.RemoteSource{Kind: b.Source.Kind, PackageID: b.Source.PackageID, Stage: b.Source.Stage,
			Spec: b.Source.Spec, Integrity: b.Source.Integrity, Manifest: b.Source.Manifest, Prompt: b.Source.Prompt}}
	if b.Sink != nil {
		p.TTLSeconds = b.Sink.TTLSeconds
	}
	rr, err := h.Runs.CreateRemote(ctx, callerOf(ctx), p)
	if err != nil {
		return nil, problem(err)
	}
	out := &remoteOutput{}
	out.Body.RunID, out.Body.URL, out.Body.FinalizeURL = rr.RunID, rr.URL, rr.FinalizeURL
	out.Body.Secret, out.Body.ExpiresAt = rr.Secret, rr.ExpiresAt
	return out, nil
}

type extendInput struct {
	RunID string `path:"runId"`
	Body  struct {
		TTLSeconds int `json:"ttlSeconds" minimum:"1"`
	}
}

type extendOutput struct {
	Body struct {
		RunID     string       `json:"runId"`
		ExpiresAt isotime.Time `json:"expiresAt"`
	}
}

func (h handlers) extend(ctx context.Context, in *extendInput) (*extendOutput, error) {
	expires, err := h.Runs.ExtendSink(ctx, callerOf(ctx), in.RunID, time.Duration(in.Body.TTLSeconds)*time.Second)
	if err != nil {
		return nil, problem(err)
	}
	out := &extendOutput{}
	out.Body.RunID, out.Body.ExpiresAt = in.RunID, expires
	return out, nil
}
