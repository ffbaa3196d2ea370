package llmproxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	proxy "github.com/appstrate/appstrate-go/internal/llmproxy"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

var tags = []string{"LLM Proxy"}

// Paths are the routes by API.
var Paths = map[string]string{
	proxy.APIOpenAICompletions:    "/api/llm-proxy/openai-completions/v1/chat/completions",
	proxy.APIAnthropicMessages:    "/api/llm-proxy/anthropic-messages/v1/messages",
	proxy.APIMistralConversations: "/api/llm-proxy/mistral-conversations/v1/chat/completions",
}

var operationIDs = map[string]string{
	proxy.APIOpenAICompletions:    "llmProxyOpenAICompletions",
	proxy.APIAnthropicMessages:    "llmProxyAnthropicMessages",
	proxy.APIMistralConversations: "llmProxyMistralConversations",
}

var wireNames = map[string]string{
	proxy.APIOpenAICompletions:    "OpenAI Chat Completions",
	proxy.APIAnthropicMessages:    "Anthropic Messages",
	proxy.APIMistralConversations: "Mistral (Chat Completions)",
}

// Deps are what the routes need.
type Deps struct {
	Proxy      *proxy.Service
	Limiter    ratelimit.Limiter
	RatePerMin int // LLM_PROXY_LIMITS.rate_per_min (60 when ≤ 0)
	Logger     *slog.Logger
}

type handlers struct{ Deps }

// Register adds the three routes.
func Register(api huma.API, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.RatePerMin <= 0 {
		d.RatePerMin = 60
	}
	h := handlers{d}
	noCookies := httpapi.DenySession(api, "The LLM proxy accepts API keys and OAuth access tokens only (cookie sessions are refused)")
	for _, name := range proxy.APIs {
		httpapi.Register(api, huma.Operation{
			OperationID: operationIDs[name], Method: http.MethodPost, Path: Paths[name], Tags: tags,
			Security: []map[string][]string{{httpapi.SecurityAPIKey: {}}, {httpapi.SecurityJWT: {}}},
			Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
				http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusBadGateway,
				http.StatusGatewayTimeout},
			Summary: "Call an organization model (" + wireNames[name] + ")",
			Description: "Forwards a " + wireNames[name] + " request to the organization's model preset named by `model` " +
				"(an id of GET /api/models) with the provider's key injected by the platform: the caller never holds it. " +
				"`model` is replaced by the provider's model name; the preset must be enabled and speak this wire format " +
				"(400 model_api_mismatch names the right route). Only Content-Type, Accept, anthropic-version, " +
				"anthropic-beta and OpenAI-Beta are forwarded. The answer (status, body, Content-Type, Retry-After, the " +
				"provider's rate-limit headers and request id) is streamed back as it arrives; its token usage is recorded " +
				"as one llm_usage row (source proxy), priced with the preset, and counted towards the run named by " +
				"X-Run-Id (a run of the organization, else 404). Unreachable provider: 502 (504 on timeout). API keys " +
				"and OAuth access tokens only (cookie sessions: 403). Requires llm-proxy:call; rate limit " +
				"LLM_PROXY_LIMITS.rate_per_min per caller.",
			Middlewares: huma.Middlewares{noCookies, httpapi.Require("llm-proxy:call"),
				httpapi.RateLimit(d.Limiter, d.RatePerMin, httpapi.ByCaller)},
			Responses: map[string]*huma.Response{
				"200": {Description: "The provider's answer (JSON, or server-sent events when the request streams)",
					Content: map[string]*huma.MediaType{"application/json": {}, "text/event-stream": {}}},
			},
		}, h.forward(name))
		// The body is documented only: the handler reads it raw (huma would consume and validate it).
		if item := api.OpenAPI().Paths[Paths[name]]; item != nil && item.Post != nil {
			item.Post.RequestBody = requestBody
		}
	}
}

var requestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
	"application/json": {Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"model"},
		Properties:           map[string]*huma.Schema{"model": {Type: huma.TypeString, Description: "Model preset id of the organization"}},
		AdditionalProperties: true}},
}}

type forwardInput struct {
	RunID string `header:"X-Run-Id" doc:"Run the call belongs to: its usage counts towards the run's cost"`

	header http.Header
	body   io.Reader
}

// Resolve keeps what huma does not bind: every header and the raw body stream.
func (in *forwardInput) Resolve(ctx huma.Context) []error {
	in.header = http.Header{}
	ctx.EachHeader(func(name, value string) { in.header.Add(name, value) })
	in.body = ctx.BodyReader()
	return nil
}

func (h handlers) forward(name string) func(context.Context, *forwardInput) (*huma.StreamResponse, error) {
	return func(ctx context.Context, in *forwardInput) (*huma.StreamResponse, error) {
		body, err := readBody(in.body)
		if err != nil {
			return nil, err
		}
		p, _ := auth.PrincipalFrom(ctx)
		req := proxy.Request{API: name, RunID: strings.TrimSpace(in.RunID), Header: in.header, Body: body,
			Caller: proxy.Caller{OrgID: p.OrgID, AppID: p.ApplicationID, UserID: p.UserID, APIKeyID: p.APIKeyID}}
		up, err := h.Proxy.Forward(ctx, req)
		if err != nil {
			return nil, h.problem(ctx, err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			for k, vs := range up.Header {
				for i, v := range vs {
					if i == 0 {
						hctx.SetHeader(k, v)
					} else {
						hctx.AppendHeader(k, v)
					}
				}
			}
			hctx.SetStatus(up.Status)
			w := hctx.BodyWriter()
			flusher, _ := w.(http.Flusher)
			flush := func() {
				if flusher != nil {
					flusher.Flush()
				}
			}
			_ = up.Relay(ctx, w, flush) // logged by Relay; the status is already sent
		}}, nil
	}
}

func readBody(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, httpapi.NewProblem(http.StatusBadRequest, "invalid_request", "The body must be a JSON object")
	}
	b, err := io.ReadAll(io.LimitReader(r, proxy.MaxBodyBytes+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr) || len(b) > proxy.MaxBodyBytes:
		return nil, httpapi.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large", "The request body is too large")
	case err != nil:
		return nil, httpapi.NewProblem(http.StatusBadRequest, "invalid_request", "Reading the request body failed")
	}
	return b, nil
}

// problem maps the proxy's errors.
func (h handlers) problem(ctx context.Context, err error) error {
	var refusal *proxy.Error
	var down *proxy.UnreachableError
	switch {
	case errors.As(err, &refusal):
		return httpapi.NewProblem(refusal.Status, refusal.Code, refusal.Message)
	case errors.As(err, &down):
		status, code := http.StatusBadGateway, "llm_unreachable"
		if down.Timeout {
			status, code = http.StatusGatewayTimeout, "llm_timeout"
		}
		return httpapi.NewProblem(status, code, down.Error())
	}
	h.Logger.ErrorContext(ctx, "llm proxy failed", "error", err)
	return httpapi.Internal()
}
