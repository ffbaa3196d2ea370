package runside

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/sink"
)

var tags = []string{"Internal"}

// RatePerMin is the request budget per path and run token.
const RatePerMin = 200

// Deps are what the /internal routes need.
type Deps struct {
	Runs    *runs.Service
	Limiter ratelimit.Limiter
}

type handlers struct{ Deps }

type runKey struct{}

// Register adds the /internal routes to api.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	security := []map[string][]string{{httpapi.SecurityExecToken: {}}}
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests}
	mw := huma.Middlewares{httpapi.RateLimit(d.Limiter, RatePerMin, byRunToken), h.authenticate}
	op := func(id, method, path, summary, description string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: description,
			Tags: tags, Security: security, Errors: errs, Middlewares: mw}
	}
	httpapi.Register(api, op("internalRunHistory", http.MethodGet, "/internal/run-history", "Past runs of the agent",
		"The latest successful runs of the same agent in the same application for the same actor (a run without "+
			"actor sees only runs without actor), newest first, without the current run."), h.history)
	httpapi.Register(api, op("internalMemories", http.MethodGet, "/internal/memories", "Search memories",
		"Archive memories of the agent visible to the run's actor (shared ones and the actor's own), newest first; "+
			"q is a case-insensitive substring (≤ 2000 characters)."), h.memories)
	httpapi.Register(api, op("internalCredentials", http.MethodGet, "/internal/credentials/{scope}/{name}",
		"Provider credentials", "The credentials and injection rules of a provider the run's agent depends on, "+
			"from the connection profile resolved for the run."), h.credentials)
	httpapi.Register(api, op("internalRefreshCredentials", http.MethodPost, "/internal/credentials/{scope}/{name}/refresh",
		"Refresh provider credentials", "As GET, after refreshing an OAuth 2 token that expires within 60 s (a "+
			"revoked refresh token marks the connection for reconnection: 401)."), h.refreshCredentials)
	httpapi.Register(api, op("internalOAuthToken", http.MethodGet, "/internal/oauth-token/{credentialId}",
		"OAuth model token", "The access token of the run's OAuth model credential (platform runs only)."), h.oauthToken)
	httpapi.Register(api, op("internalRefreshOAuthToken", http.MethodPost, "/internal/oauth-token/{credentialId}/refresh",
		"Refresh an OAuth model token", "Forces a refresh of the run's OAuth model credential."), h.oauthToken)
	httpapi.Register(api, op("internalLLMUsage", http.MethodPost, "/internal/llm-usage", "Meter an LLM response",
		"Called by the sidecar after each LLM response: the usage is priced with the run's model and recorded once "+
			"per request id; the run's cost follows the platform's metering, not the agent's claims."), h.llmUsage)
}

// byRunToken keys on `METHOD:path:run:<digest of the bearer token>`: the budget is the token's, and a shared
// limiter (Redis) never holds the token itself.
func byRunToken(ctx huma.Context) string {
	sum := sha256.Sum256([]byte(ctx.Header("Authorization")))
	return ctx.Method() + ":" + ctx.URL().Path + ":run:" + hex.EncodeToString(sum[:16])
}

// authenticate resolves the run token to a running run and keeps it in the context.
func (h handlers) authenticate(ctx huma.Context, next func(huma.Context)) {
	rs, err := h.Runs.AuthorizeRunToken(ctx.Context(), ctx.Header("Authorization"))
	if err != nil {
		p, ok := problem(err).(*httpapi.Problem)
		if !ok {
			p = httpapi.Internal()
		}
		r, w := humago.Unwrap(ctx)
		httpapi.WriteProblem(w, r, p)
		return
	}
	next(huma.WithValue(ctx, runKey{}, rs))
}

func runOf(ctx context.Context) *runs.RunSide {
	rs, _ := ctx.Value(runKey{}).(*runs.RunSide)
	return rs
}

type historyInput struct {
	Limit  string `query:"limit" doc:"1..50 (default 10)"`
	Fields string `query:"fields" doc:"Comma list of checkpoint, result (default checkpoint)"`
}

type historyOutput struct {
	Body httpapi.List[runs.RunHistoryEntry]
}

func (h handlers) history(ctx context.Context, in *historyInput) (*historyOutput, error) {
	fields, err := runs.ParseHistoryFields(in.Fields)
	if err != nil {
		return nil, problem(err)
	}
	list, more, err := h.Runs.RunHistory(ctx, runOf(ctx), runs.RunSideLimit(in.Limit), fields)
	if err != nil {
		return nil, problem(err)
	}
	return &historyOutput{Body: httpapi.NewList(list, more)}, nil
}

type memoriesInput struct {
	Q     string `query:"q" doc:"Case-insensitive substring (≤ 2000 characters)"`
	Limit string `query:"limit" doc:"1..50 (default 10)"`
}

type memoriesOutput struct {
	Body struct {
		Memories []runs.RunMemoryEntry `json:"memories"`
	}
}

func (h handlers) memories(ctx context.Context, in *memoriesInput) (*memoriesOutput, error) {
	list, err := h.Runs.Memories(ctx, runOf(ctx), in.Q, runs.RunSideLimit(in.Limit))
	if err != nil {
		return nil, problem(err)
	}
	out := &memoriesOutput{}
	out.Body.Memories = list
	return out, nil
}

type providerInput struct {
	Scope string `path:"scope" doc:"@scope of the provider"`
	Name  string `path:"name"`
}

// ProviderCredentials is the answer of /internal/credentials: the materialised credentials and the
// injection rules of one provider.
type ProviderCredentials credentials.Payload

type credentialsOutput struct {
	Body ProviderCredentials
}

func (h handlers) credentials(ctx context.Context, in *providerInput) (*credentialsOutput, error) {
	return h.providerCredentials(ctx, in, false)
}

func (h handlers) refreshCredentials(ctx context.Context, in *providerInput) (*credentialsOutput, error) {
	return h.providerCredentials(ctx, in, true)
}

func (h handlers) providerCredentials(ctx context.Context, in *providerInput, refresh bool) (*credentialsOutput, error) {
	pl, err := h.Runs.Credentials(ctx, runOf(ctx), in.Scope+"/"+in.Name, refresh)
	if err != nil {
		return nil, problem(err)
	}
	return &credentialsOutput{Body: ProviderCredentials(pl)}, nil
}

type oauthInput struct {
	CredentialID string `path:"credentialId"`
}

type oauthOutput struct {
	Body struct {
		AccessToken string `json:"accessToken"`
		ExpiresAt   *int64 `json:"expiresAt" doc:"Epoch milliseconds"`
		AccountID   string `json:"accountId,omitempty"`
	}
}

func (h handlers) oauthToken(ctx context.Context, in *oauthInput) (*oauthOutput, error) {
	return nil, problem(h.Runs.OAuthModelToken(ctx, runOf(ctx), in.CredentialID))
}

type llmUsageInput struct {
	Body struct {
		RequestID string        `json:"requestId" minLength:"1" maxLength:"255"`
		API       string        `json:"api,omitempty" required:"false" doc:"e.g. anthropic-messages, openai-completions"`
		Model     string        `json:"model,omitempty" required:"false"`
		Usage     MeteredTokens `json:"usage"`
		Complete  bool          `json:"complete,omitempty" required:"false" doc:"false while a stream is still running"`
	}
}

// MeteredTokens are the token counts of one LLM response.
type MeteredTokens struct {
	InputTokens              int64 `json:"input_tokens,omitempty" required:"false" minimum:"0"`
	OutputTokens             int64 `json:"output_tokens,omitempty" required:"false" minimum:"0"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty" required:"false" minimum:"0"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty" required:"false" minimum:"0"`
}

type llmUsageOutput struct {
	Body struct {
		OK      bool    `json:"ok"`
		CostUSD float64 `json:"costUsd" doc:"Price of this response"`
	}
}

func (h handlers) llmUsage(ctx context.Context, in *llmUsageInput) (*llmUsageOutput, error) {
	b := in.Body
	cost, err := h.Runs.RecordLLMUsage(ctx, runOf(ctx), runs.LLMUsage{RequestID: b.RequestID, API: b.API, Model: b.Model,
		Usage: sink.TokenUsage(b.Usage), Complete: b.Complete})
	if err != nil {
		return nil, problem(err)
	}
	out := &llmUsageOutput{}
	out.Body.OK, out.Body.CostUSD = true, cost
	return out, nil
}

// problem maps the run-side errors to problems; their detail is what the sidecar shows.
func problem(err error) error {
	var rs *runs.RunSideError
	switch {
	case errors.Is(err, runs.ErrMissingRunToken):
		return httpapi.Unauthorized("Missing run token")
	case errors.Is(err, runs.ErrInvalidRunToken):
		return httpapi.Unauthorized("Invalid run token")
	case errors.Is(err, runs.ErrRunNotFound):
		return httpapi.NotFound("Run not found")
	case errors.Is(err, runs.ErrRunNotRunning):
		return httpapi.Forbidden("Run is not running")
	case errors.As(err, &rs):
		switch rs.Code {
		case "not_found":
			return httpapi.NotFound(rs.Message)
		case "unauthorized":
			return httpapi.Unauthorized(rs.Message)
		case "forbidden":
			return httpapi.Forbidden(rs.Message)
		}
		return httpapi.BadRequest("invalid_request", rs.Message)
	}
	return err
}
