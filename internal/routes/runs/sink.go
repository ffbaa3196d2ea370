package runs

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/sink"
)

var sinkTags = []string{"Run sink"}

// registerSink adds the run sink routes (RUNTIME.md §1.4, §1.5, §4.8): authenticated by the Standard Webhooks
// signature of the run's sink secret over the raw body, not by the platform's credentials, and limited to
// REMOTE_RUN_EVENT_LIMITS.burst requests per second per run across the three routes.
func registerSink(api huma.API, h handlers) {
	limit := httpapi.RateLimitWindow(h.Limiter, h.Runs.Sink.BurstPerSecond(), time.Second, bySinkRun)
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests}
	signed := "Signed with the run's sink secret: `webhook-id`, `webhook-timestamp` (Unix seconds, ±300 s) and " +
		"`webhook-signature: v1,<base64 HMAC-SHA256(secret, \"<id>.<timestamp>.<raw body>\")>`. 404 when the run has no " +
		"sink, 410 `run_sink_closed` once it finalized, 410 `run_sink_expired` after its expiry, 401 " +
		"`missing_signature_headers`, `invalid_timestamp`, `timestamp_out_of_tolerance` or `invalid_signature`."
	envelope := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(RunSinkEvent{}), true, "")
	result := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(RunSinkResult{}), true, "")
	httpapi.Register(api, huma.Operation{
		OperationID: "postRunEvent", Method: http.MethodPost, Path: "/api/runs/{runId}/events",
		Summary: "Report a run event", Tags: sinkTags, Security: httpapi.Public,
		Description: "One CloudEvents 1.0 envelope (strict: specversion \"1.0\", type, source, id, time, datacontenttype " +
			"\"application/json\", data object, sequence ≥ 0). Events are applied in sequence order: the next one is " +
			"persisted at once, later ones are buffered until the gap fills (or the run finalizes), earlier ones and a " +
			"webhook-id seen in the last 600 s are replays. " + signed,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			sink.ContentTypeEvent: {Schema: envelope}, "application/json": {Schema: envelope}}},
		Errors: errs, Middlewares: huma.Middlewares{limit},
	}, h.event)
	httpapi.Register(api, huma.Operation{
		OperationID: "finalizeRun", Method: http.MethodPost, Path: "/api/runs/{runId}/events/finalize",
		Summary: "Finalize a run", Tags: sinkTags, Security: httpapi.Public,
		Description: "The runner's terminal RunResult. The platform derives the final status (explicit status; error ⇒ " +
			"failed; output breaking the output schema, no output after an adapter error, or no token used ⇒ failed), " +
			"persists memories and pinned slots (validated first: 400 and nothing written when they break the rules), " +
			"closes the sink and publishes the webhook event. Retrying a finalize with the same webhook-id answers 200. " + signed,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: result}, sink.ContentTypeEvent: {Schema: result}}},
		Errors: errs, Middlewares: huma.Middlewares{limit},
	}, h.finalize)
	httpapi.Register(api, huma.Operation{
		OperationID: "runHeartbeat", Method: http.MethodPost, Path: "/api/runs/{runId}/events/heartbeat",
		Summary: "Run heartbeat", Tags: sinkTags, Security: httpapi.Public,
		Description: "Keeps the run alive for the stall watchdog. Body `{}`. " + signed,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Type: huma.TypeObject}}}},
		Errors: errs, Middlewares: huma.Middlewares{limit},
	}, h.heartbeat)
}

// RunSinkEvent documents the body of POST /api/runs/{runId}/events (decoded by runs.DecodeEnvelope).
type RunSinkEvent struct {
	SpecVersion     string         `json:"specversion" enum:"1.0"`
	Type            string         `json:"type" minLength:"1" doc:"appstrate.progress, appstrate.metric, appstrate.error, output.emitted, log.written, report.appended, …"`
	Source          string         `json:"source" minLength:"1"`
	ID              string         `json:"id" minLength:"1"`
	Time            string         `json:"time" format:"date-time"`
	DataContentType string         `json:"datacontenttype" enum:"application/json"`
	Data            map[string]any `json:"data"`
	Sequence        int64          `json:"sequence" minimum:"0" doc:"Starts at 1, one per event"`
}

// RunSinkResult documents the body of POST /api/runs/{runId}/events/finalize (decoded by runs.DecodeRunResult).
type RunSinkResult struct {
	Memories   []map[string]any          `json:"memories,omitempty" required:"false" doc:"[{content (≤ 2000 chars kept), scope: actor|shared}]"`
	Pinned     map[string]map[string]any `json:"pinned,omitempty" required:"false" doc:"{key ^[a-z0-9_]+$ ≤ 64: {content (JSON ≤ 64 KiB), scope}}; key checkpoint is the carry-over slot"`
	Output     any                       `json:"output,omitempty" required:"false"`
	Logs       []map[string]any          `json:"logs,omitempty" required:"false"`
	Error      map[string]any            `json:"error,omitempty" required:"false" doc:"{message, stack?}"`
	Status     string                    `json:"status,omitempty" required:"false" enum:"success,failed,timeout,cancelled"`
	DurationMs int64                     `json:"durationMs,omitempty" required:"false" minimum:"0"`
	Usage      map[string]int64          `json:"usage,omitempty" required:"false" doc:"{input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens}"`
	Cost       float64                   `json:"cost,omitempty" required:"false" minimum:"0"`
	_          struct{}                  `additionalProperties:"true"`
}

func bySinkRun(ctx huma.Context) string { return "sink:" + ctx.Param("runId") }

type sinkInput struct {
	RunID     string `path:"runId"`
	WebhookID string `header:"webhook-id"`
	Timestamp string `header:"webhook-timestamp"`
	Signature string `header:"webhook-signature"`
	RawBody   []byte
}

func (in *sinkInput) request() runs.SinkRequest {
	return runs.SinkRequest{RunID: in.RunID, WebhookID: in.WebhookID, Timestamp: in.Timestamp, Signature: in.Signature,
		Body: in.RawBody}
}

type eventOutput struct {
	Body struct {
		OK       bool   `json:"ok"`
		Outcome  string `json:"outcome" enum:"persisted,buffered,replay"`
		Sequence *int64 `json:"sequence,omitempty"`
	}
}

func (h handlers) event(ctx context.Context, in *sinkInput) (*eventOutput, error) {
	res, err := h.Runs.Ingest(ctx, in.request())
	if err != nil {
		return nil, sinkProblem(err)
	}
	out := &eventOutput{}
	out.Body.OK, out.Body.Outcome, out.Body.Sequence = true, res.Outcome, res.Sequence
	return out, nil
}

func (h handlers) finalize(ctx context.Context, in *sinkInput) (*okOutput, error) {
	if err := h.Runs.FinalizeSink(ctx, in.request()); err != nil {
		return nil, sinkProblem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

func (h handlers) heartbeat(ctx context.Context, in *sinkInput) (*okOutput, error) {
	if err := h.Runs.SinkHeartbeat(ctx, in.request()); err != nil {
		return nil, sinkProblem(err)
	}
	out := &okOutput{}
	out.Body.OK = true
	return out, nil
}

// sinkProblem maps the sink errors to problems.
func sinkProblem(err error) error {
	var env *runs.EnvelopeError
	var res *runs.ResultError
	switch {
	case errors.Is(err, runs.ErrSinkNotFound), errors.Is(err, runs.ErrRunNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "run_not_found", "Run not found")
	case errors.Is(err, runs.ErrSinkClosed):
		return httpapi.NewProblem(http.StatusGone, "run_sink_closed", "The run's event sink is closed: the run already finalized")
	case errors.Is(err, runs.ErrSinkExpired):
		return httpapi.NewProblem(http.StatusGone, "run_sink_expired", "The run's event sink has expired")
	case errors.Is(err, sink.ErrMissingHeaders):
		return httpapi.NewProblem(http.StatusUnauthorized, "missing_signature_headers",
			"The webhook-id, webhook-timestamp and webhook-signature headers are required")
	case errors.Is(err, sink.ErrInvalidTimestamp):
		return httpapi.NewProblem(http.StatusUnauthorized, "invalid_timestamp", "webhook-timestamp must be Unix seconds").
			WithParam("webhook-timestamp")
	case errors.Is(err, sink.ErrTimestampSkew):
		return httpapi.NewProblem(http.StatusUnauthorized, "timestamp_out_of_tolerance",
			"webhook-timestamp is outside the tolerance window").WithParam("webhook-timestamp")
	case errors.Is(err, sink.ErrInvalidSignature):
		return httpapi.NewProblem(http.StatusUnauthorized, "invalid_signature", "The webhook-signature does not match the body").
			WithParam("webhook-signature")
	case errors.Is(err, runs.ErrBufferFull):
		return httpapi.NewProblem(http.StatusTooManyRequests, "rate_limited", err.Error()).WithRetryAfter(1)
	case errors.As(err, &env):
		field := env.Field
		if field == "" {
			field = "body"
		}
		return httpapi.BadRequest("validation_failed", env.Error()).
			WithErrors(httpapi.FieldError{Field: field, Code: "invalid_value", Message: env.Message})
	case errors.As(err, &res):
		fields := make([]httpapi.FieldError, 0, len(res.Fields))
		for _, f := range res.Fields {
			fields = append(fields, httpapi.FieldError{Field: f.Field, Code: "invalid_value", Message: f.Message})
		}
		return httpapi.BadRequest("validation_failed", res.Error()).WithErrors(fields...)
	}
	return err
}
