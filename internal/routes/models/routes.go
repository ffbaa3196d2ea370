package models

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var (
	modelTags = []string{"Models"}
	credTags  = []string{"Model provider credentials"}
)

// testRate is the connection tests' budget per caller and minute (API.md §4.12 RL5).
const testRate = 5

// Cost is a model price in USD per million tokens.
type Cost struct {
	Input      float64 `json:"input" minimum:"0"`
	Output     float64 `json:"output" minimum:"0"`
	CacheRead  float64 `json:"cacheRead,omitempty" minimum:"0"`
	CacheWrite float64 `json:"cacheWrite,omitempty" minimum:"0"`
}

func (c *Cost) pricing() *llm.Pricing {
	if c == nil {
		return nil
	}
	return &llm.Pricing{InputPerMTok: c.Input, OutputPerMTok: c.Output, CacheReadPerMTok: c.CacheRead, CacheWritePerMTok: c.CacheWrite}
}

// Model is the wire form of an org or system model.
type Model struct {
	ID            string   `json:"id"`
	Label         string   `json:"label"`
	ModelID       string   `json:"modelId" doc:"The provider's model name"`
	ProviderID    string   `json:"providerId"`
	CredentialID  string   `json:"credentialId"`
	APIShape      string   `json:"apiShape" doc:"Wire format (MODEL_API), e.g. anthropic-messages, openai-completions"`
	Enabled       bool     `json:"enabled"`
	IsDefault     bool     `json:"isDefault" doc:"The organization's effective default model"`
	Source        string   `json:"source" enum:"org,system" doc:"system: from SYSTEM_PROVIDER_KEYS, read-only"`
	ContextWindow *int     `json:"contextWindow"`
	MaxTokens     *int     `json:"maxTokens"`
	Reasoning     bool     `json:"reasoning"`
	Input         []string `json:"input" doc:"Input modalities: text, image"`
	Cost          *Cost    `json:"cost" doc:"USD per million tokens; null when unpriced"`
	CreatedAt     *string  `json:"createdAt" format:"date-time" doc:"null for system models"`
	UpdatedAt     *string  `json:"updatedAt" format:"date-time" doc:"null for system models"`
}

func intOrNil(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func timeOrNil(t isotime.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.String()
	return &s
}

func toModel(m models.Model) Model {
	w := Model{ID: m.ID, Label: m.Label, ModelID: m.ModelID, ProviderID: m.ProviderID, CredentialID: m.CredentialID,
		APIShape: m.APIShape, Enabled: m.Enabled, IsDefault: m.IsDefault, Source: m.Source,
		ContextWindow: intOrNil(m.ContextWindow), MaxTokens: intOrNil(m.MaxTokens), Reasoning: m.Reasoning, Input: m.Input,
		CreatedAt: timeOrNil(m.CreatedAt), UpdatedAt: timeOrNil(m.UpdatedAt)}
	if w.Input == nil {
		w.Input = []string{}
	}
	if m.Cost != nil {
		w.Cost = &Cost{Input: m.Cost.InputPerMTok, Output: m.Cost.OutputPerMTok, CacheRead: m.Cost.CacheReadPerMTok,
			CacheWrite: m.Cost.CacheWritePerMTok}
	}
	return w
}

// Credential is the wire form of a model-provider credential. The key is never returned: keyHint masks it.
type Credential struct {
	ID                string  `json:"id"`
	Label             string  `json:"label"`
	ProviderID        string  `json:"providerId"`
	AuthMode          string  `json:"authMode" enum:"api_key,oauth2"`
	Source            string  `json:"source" enum:"built-in,custom" doc:"built-in: from SYSTEM_PROVIDER_KEYS, read-only"`
	KeyHint           string  `json:"keyHint" doc:"The API key masked (first 3 and last 4 characters)"`
	BaseURLOverride   *string `json:"baseUrlOverride"`
	NeedsReconnection bool    `json:"needsReconnection"`
	OAuthEmail        *string `json:"oauthEmail"`
	ExpiresAt         *string `json:"expiresAt" format:"date-time"`
	CreatedAt         *string `json:"createdAt" format:"date-time"`
	UpdatedAt         *string `json:"updatedAt" format:"date-time"`
}

func toCredential(c models.Credential) Credential {
	w := Credential{ID: c.ID, Label: c.Label, ProviderID: c.ProviderID, AuthMode: "api_key", Source: c.Source,
		KeyHint: c.KeyHint, ExpiresAt: timeOrNil(c.ExpiresAt), CreatedAt: timeOrNil(c.CreatedAt), UpdatedAt: timeOrNil(c.UpdatedAt)}
	if c.BaseURLOverride != "" {
		b := c.BaseURLOverride
		w.BaseURLOverride = &b
	}
	return w
}

// --- bodies ---

// ModelCreateBody is the body of POST /api/models.
type ModelCreateBody struct {
	Label         string   `json:"label" minLength:"1" maxLength:"200"`
	ModelID       string   `json:"modelId" minLength:"1" maxLength:"200"`
	CredentialID  string   `json:"credentialId" minLength:"1" doc:"A model-provider credential of the organization"`
	Input         []string `json:"input,omitempty" enum:"text,image" doc:"Default [\"text\"]"`
	ContextWindow int      `json:"contextWindow,omitempty" minimum:"0"`
	MaxTokens     int      `json:"maxTokens,omitempty" minimum:"0"`
	Reasoning     bool     `json:"reasoning,omitempty"`
	Cost          *Cost    `json:"cost,omitempty" doc:"USD per million tokens"`
	Enabled       *bool    `json:"enabled,omitempty" doc:"Default true"`
	IsDefault     bool     `json:"isDefault,omitempty"`
}

// ModelUpdateBody is the body of PUT /api/models/{id}: only the members present change.
type ModelUpdateBody struct {
	Label         *string  `json:"label,omitempty" minLength:"1" maxLength:"200"`
	ModelID       *string  `json:"modelId,omitempty" minLength:"1" maxLength:"200"`
	CredentialID  *string  `json:"credentialId,omitempty" minLength:"1"`
	Input         []string `json:"input,omitempty" enum:"text,image"`
	ContextWindow *int     `json:"contextWindow,omitempty" minimum:"0"`
	MaxTokens     *int     `json:"maxTokens,omitempty" minimum:"0"`
	Reasoning     *bool    `json:"reasoning,omitempty"`
	Cost          *Cost    `json:"cost,omitempty" doc:"USD per million tokens"`
	Enabled       *bool    `json:"enabled,omitempty"`
	IsDefault     *bool    `json:"isDefault,omitempty"`
}

// DefaultBody is the body of PUT /api/models/default.
type DefaultBody struct {
	ModelID *string `json:"modelId" required:"true" nullable:"true" doc:"An org model id, the system default's id, or null to clear the org default"`
}

// ModelTestBody is the body of POST /api/models/test.
type ModelTestBody struct {
	CredentialID string `json:"credentialId" minLength:"1"`
	ModelID      string `json:"modelId" minLength:"1" maxLength:"200"`
}

// CredentialCreateBody is the body of POST /api/model-provider-credentials.
type CredentialCreateBody struct {
	Label           string `json:"label" minLength:"1" maxLength:"200"`
	ProviderID      string `json:"providerId" minLength:"1" doc:"A provider of GET /api/model-provider-credentials/registry"`
	APIKey          string `json:"apiKey,omitempty" maxLength:"4096" doc:"Stored encrypted, never returned"`
	BaseURLOverride string `json:"baseUrlOverride,omitempty" maxLength:"2048"`
}

// CredentialUpdateBody is the body of PUT /api/model-provider-credentials/{id}.
type CredentialUpdateBody struct {
	Label           *string `json:"label,omitempty" minLength:"1" maxLength:"200"`
	APIKey          *string `json:"apiKey,omitempty" maxLength:"4096"`
	BaseURLOverride *string `json:"baseUrlOverride,omitempty" maxLength:"2048" doc:"\"\" removes the override"`
}

// CredentialTestBody is the body of POST /api/model-provider-credentials/test (an unsaved key).
type CredentialTestBody struct {
	ProviderID      string `json:"providerId" minLength:"1"`
	APIKey          string `json:"apiKey,omitempty" maxLength:"4096"`
	BaseURLOverride string `json:"baseUrlOverride,omitempty" maxLength:"2048"`
	ModelID         string `json:"modelId,omitempty" maxLength:"200" doc:"Default: the provider's test model"`
}

// CredentialIDTestBody is the optional body of POST /api/model-provider-credentials/{id}/test.
type CredentialIDTestBody struct {
	ModelID string `json:"modelId,omitempty" maxLength:"200"`
}

// TestResult is a successful connection test.
type TestResult struct {
	OK        bool   `json:"ok"`
	ModelID   string `json:"modelId"`
	LatencyMs int64  `json:"latencyMs"`
}

type idInput struct {
	ID string `path:"id"`
}

type modelCreateInput struct{ Body ModelCreateBody }
type modelUpdateInput struct {
	ID   string `path:"id"`
	Body ModelUpdateBody
}
type defaultInput struct{ Body DefaultBody }
type modelTestInput struct{ Body ModelTestBody }
type credCreateInput struct{ Body CredentialCreateBody }
type credUpdateInput struct {
	ID   string `path:"id"`
	Body CredentialUpdateBody
}
type credTestInput struct{ Body CredentialTestBody }
type credIDTestInput struct {
	ID   string                `path:"id"`
	Body *CredentialIDTestBody `required:"false"`
}

type idOutput struct {
	Body struct {
		ID string `json:"id"`
	}
}
type modelOutput struct{ Body Model }
type modelListOutput struct{ Body httpapi.List[Model] }
type credOutput struct{ Body Credential }
type credListOutput struct{ Body httpapi.List[Credential] }
type registryOutput struct{ Body httpapi.List[models.Provider] }
type testOutput struct{ Body TestResult }

// Deps are what the routes need.
type Deps struct {
	Models  *models.Service
	Limiter ratelimit.Limiter
}

type handlers struct{ Deps }

// Register adds the models routes (API.md §4.12: models and model-provider credentials; not the OAuth model
// providers, /seed, /openrouter or proxies) and GET /api/me/models.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	rl := httpapi.RateLimit(d.Limiter, testRate, httpapi.ByCaller)
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	testErrs := append(errs, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout)
	reg := func(op huma.Operation, perm auth.Permission, register func(huma.Operation), extra ...func(huma.Context, func(huma.Context))) {
		op.Middlewares = append(huma.Middlewares{}, extra...)
		op.Middlewares = append(op.Middlewares, httpapi.Require(perm))
		if op.Errors == nil {
			op.Errors = errs
		}
		register(op)
	}
	reg(huma.Operation{OperationID: "listModels", Method: http.MethodGet, Path: "/api/models", Summary: "List models",
		Tags: modelTags, Description: "The system models (SYSTEM_PROVIDER_KEYS, read-only) then the organization's, " +
			"with the effective default flagged. Requires models:read."}, "models:read", on(api, h.listModels))
	reg(huma.Operation{OperationID: "listMyModels", Method: http.MethodGet, Path: "/api/me/models", Summary: "List models of the current organization",
		Tags: modelTags, Description: "Same list as GET /api/models. Requires models:read."}, "models:read", on(api, h.listModels))
	reg(huma.Operation{OperationID: "createModel", Method: http.MethodPost, Path: "/api/models", Summary: "Create a model",
		Tags: modelTags, DefaultStatus: http.StatusCreated, Description: "Adds an org model on a model-provider credential " +
			"of the organization. Requires models:write."}, "models:write", on(api, h.createModel))
	reg(huma.Operation{OperationID: "setDefaultModel", Method: http.MethodPut, Path: "/api/models/default", Summary: "Set the default model",
		Tags: modelTags, Description: "Makes an org model the default; null clears the org default so that the system " +
			"default applies. Returns the list. Requires models:write."}, "models:write", on(api, h.setDefault))
	reg(huma.Operation{OperationID: "testModelConfig", Method: http.MethodPost, Path: "/api/models/test", Summary: "Test a model before saving it",
		Tags: modelTags, Errors: testErrs, Description: "Sends one tiny request with the credential. Upstream failures: " +
			"502 provider_error, 502 network_error, 504 timeout. Requires models:write."}, "models:write", on(api, h.testModelConfig), rl)
	reg(huma.Operation{OperationID: "getModel", Method: http.MethodGet, Path: "/api/models/{id}", Summary: "Get a model",
		Tags: modelTags, Description: "Requires models:read."}, "models:read", on(api, h.getModel))
	reg(huma.Operation{OperationID: "updateModel", Method: http.MethodPut, Path: "/api/models/{id}", Summary: "Update a model",
		Tags: modelTags, Description: "Changes the members present. System models are read-only (403). Requires models:write."},
		"models:write", on(api, h.updateModel))
	reg(huma.Operation{OperationID: "deleteModel", Method: http.MethodDelete, Path: "/api/models/{id}", Summary: "Delete a model",
		Tags: modelTags, DefaultStatus: http.StatusNoContent, Description: "System models are read-only (403). Requires models:delete."},
		"models:delete", on(api, h.deleteModel))
	reg(huma.Operation{OperationID: "testModel", Method: http.MethodPost, Path: "/api/models/{id}/test", Summary: "Test a model",
		Tags: modelTags, Errors: testErrs, Description: "Sends one tiny request to the model. Upstream failures: 502 " +
			"provider_error, 502 network_error, 504 timeout. Requires models:write."}, "models:write", on(api, h.testModel), rl)

	reg(huma.Operation{OperationID: "listModelProviderRegistry", Method: http.MethodGet, Path: "/api/model-provider-credentials/registry",
		Summary: "List the model providers", Tags: credTags, Description: "Requires model-provider-credentials:read."},
		"model-provider-credentials:read", on(api, h.registry))
	reg(huma.Operation{OperationID: "listModelProviderCredentials", Method: http.MethodGet, Path: "/api/model-provider-credentials",
		Summary: "List model-provider credentials", Tags: credTags, Description: "Built-in credentials (SYSTEM_PROVIDER_KEYS) " +
			"then the organization's. Keys are never returned. Requires model-provider-credentials:read."},
		"model-provider-credentials:read", on(api, h.listCredentials))
	reg(huma.Operation{OperationID: "createModelProviderCredential", Method: http.MethodPost, Path: "/api/model-provider-credentials",
		Summary: "Create a model-provider credential", Tags: credTags, DefaultStatus: http.StatusCreated,
		Description: "The API key is stored encrypted. Requires model-provider-credentials:write."},
		"model-provider-credentials:write", on(api, h.createCredential))
	reg(huma.Operation{OperationID: "testModelProviderKey", Method: http.MethodPost, Path: "/api/model-provider-credentials/test",
		Summary: "Test an unsaved key", Tags: credTags, Errors: testErrs, Description: "Upstream failures: 502 provider_error, " +
			"502 network_error, 504 timeout. Requires model-provider-credentials:write."},
		"model-provider-credentials:write", on(api, h.testKey), rl)
	reg(huma.Operation{OperationID: "testModelProviderCredential", Method: http.MethodPost, Path: "/api/model-provider-credentials/{id}/test",
		Summary: "Test a credential", Tags: credTags, Errors: testErrs, Description: "With modelId, or the first model using " +
			"the credential, or the provider's test model. Requires model-provider-credentials:write."},
		"model-provider-credentials:write", on(api, h.testCredential), rl)
	reg(huma.Operation{OperationID: "updateModelProviderCredential", Method: http.MethodPut, Path: "/api/model-provider-credentials/{id}",
		Summary: "Update a model-provider credential", Tags: credTags, Description: "Built-in credentials are read-only " +
			"(403). Requires model-provider-credentials:write."}, "model-provider-credentials:write", on(api, h.updateCredential))
	reg(huma.Operation{OperationID: "deleteModelProviderCredential", Method: http.MethodDelete, Path: "/api/model-provider-credentials/{id}",
		Summary: "Delete a model-provider credential", Tags: credTags, DefaultStatus: http.StatusNoContent,
		Errors: append(errs, http.StatusConflict), Description: "409 credential_in_use while a model uses it. Requires " +
			"model-provider-credentials:delete."}, "model-provider-credentials:delete", on(api, h.deleteCredential))
}

// on binds a handler for reg.
func on[I, O any](api huma.API, handler func(context.Context, *I) (*O, error)) func(huma.Operation) {
	return func(op huma.Operation) { httpapi.Register(api, op, handler) }
}

func orgOf(ctx context.Context) (*auth.Principal, string) {
	p, _ := auth.PrincipalFrom(ctx)
	return p, p.OrgID
}

func problem(err error) error {
	var v *models.ValidationError
	var te *models.TestError
	switch {
	case errors.As(err, &v):
		return httpapi.BadRequest(v.Code, v.Error()).WithParam(v.Field)
	case errors.As(err, &te):
		status := http.StatusBadGateway
		if te.Code == llm.CodeTimeout {
			status = http.StatusGatewayTimeout
		}
		return httpapi.NewProblem(status, te.Code, te.Detail)
	case errors.Is(err, models.ErrNotFound):
		return httpapi.NotFound("Model not found")
	case errors.Is(err, models.ErrCredentialNotFound):
		return httpapi.NotFound("Model provider credential not found")
	case errors.Is(err, models.ErrCredentialInUse):
		return httpapi.Conflict("credential_in_use", "The credential is used by at least one model")
	case errors.Is(err, models.ErrReadOnly):
		return httpapi.NewProblem(http.StatusForbidden, "operation_not_allowed", "System models and credentials are read-only")
	}
	return err
}

func record(ctx context.Context, db *store.DB, p *auth.Principal, action, typ, id string, after any) {
	ev := audit.Event{OrgID: p.OrgID, Action: action, ResourceType: typ, ResourceID: id, After: after,
		IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx)}
	if p.IsAPIKey() {
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	} else {
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	audit.Record(ctx, db, ev)
}

func (h handlers) listModels(ctx context.Context, _ *struct{}) (*modelListOutput, error) {
	_, org := orgOf(ctx)
	list, err := h.Models.ListModels(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]Model, 0, len(list))
	for _, m := range list {
		out = append(out, toModel(m))
	}
	return &modelListOutput{Body: httpapi.NewList(out, false)}, nil
}

func (h handlers) getModel(ctx context.Context, in *idInput) (*modelOutput, error) {
	_, org := orgOf(ctx)
	m, err := h.Models.GetModel(ctx, org, in.ID)
	if err != nil {
		return nil, problem(err)
	}
	return &modelOutput{Body: toModel(m)}, nil
}

func (h handlers) createModel(ctx context.Context, in *modelCreateInput) (*idOutput, error) {
	p, org := orgOf(ctx)
	b := in.Body
	m, err := h.Models.CreateModel(ctx, org, models.NewModel{Label: b.Label, ModelID: b.ModelID, CredentialID: b.CredentialID,
		Input: b.Input, ContextWindow: b.ContextWindow, MaxTokens: b.MaxTokens, Reasoning: b.Reasoning, Cost: b.Cost.pricing(),
		Enabled: b.Enabled, IsDefault: b.IsDefault})
	if err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model.created", "model", m.ID, toModel(m))
	out := &idOutput{}
	out.Body.ID = m.ID
	return out, nil
}

func (h handlers) updateModel(ctx context.Context, in *modelUpdateInput) (*modelOutput, error) {
	p, org := orgOf(ctx)
	b := in.Body
	m, err := h.Models.UpdateModel(ctx, org, in.ID, models.ModelPatch{Label: b.Label, ModelID: b.ModelID,
		CredentialID: b.CredentialID, Input: b.Input, ContextWindow: b.ContextWindow, MaxTokens: b.MaxTokens,
		Reasoning: b.Reasoning, Enabled: b.Enabled, Cost: b.Cost.pricing(), IsDefault: b.IsDefault})
	if err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model.updated", "model", m.ID, toModel(m))
	return &modelOutput{Body: toModel(m)}, nil
}

func (h handlers) deleteModel(ctx context.Context, in *idInput) (*struct{}, error) {
	p, org := orgOf(ctx)
	if err := h.Models.DeleteModel(ctx, org, in.ID); err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model.deleted", "model", in.ID, nil)
	return nil, nil
}

func (h handlers) setDefault(ctx context.Context, in *defaultInput) (*modelListOutput, error) {
	p, org := orgOf(ctx)
	id := ""
	if in.Body.ModelID != nil {
		id = *in.Body.ModelID
	}
	if err := h.Models.SetDefault(ctx, org, id); err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model.default_set", "model", id, nil)
	return h.listModels(ctx, nil)
}

func testOut(r models.TestResult, err error) (*testOutput, error) {
	if err != nil {
		return nil, problem(err)
	}
	return &testOutput{Body: TestResult{OK: true, ModelID: r.ModelID, LatencyMs: r.LatencyMs}}, nil
}

func (h handlers) testModelConfig(ctx context.Context, in *modelTestInput) (*testOutput, error) {
	_, org := orgOf(ctx)
	return testOut(h.Models.TestCredential(ctx, org, in.Body.CredentialID, in.Body.ModelID))
}

func (h handlers) testModel(ctx context.Context, in *idInput) (*testOutput, error) {
	_, org := orgOf(ctx)
	return testOut(h.Models.TestModel(ctx, org, in.ID))
}

func (h handlers) registry(ctx context.Context, _ *struct{}) (*registryOutput, error) {
	return &registryOutput{Body: httpapi.NewList(models.Providers(), false)}, nil
}

func (h handlers) listCredentials(ctx context.Context, _ *struct{}) (*credListOutput, error) {
	_, org := orgOf(ctx)
	list, err := h.Models.ListCredentials(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]Credential, 0, len(list))
	for _, c := range list {
		out = append(out, toCredential(c))
	}
	return &credListOutput{Body: httpapi.NewList(out, false)}, nil
}

func (h handlers) createCredential(ctx context.Context, in *credCreateInput) (*idOutput, error) {
	p, org := orgOf(ctx)
	b := in.Body
	c, err := h.Models.CreateCredential(ctx, org, models.NewCredential{Label: b.Label, ProviderID: b.ProviderID,
		APIKey: b.APIKey, BaseURLOverride: b.BaseURLOverride, CreatedBy: p.UserID})
	if err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model_provider_credential.created", "model_provider_credential", c.ID, toCredential(c))
	out := &idOutput{}
	out.Body.ID = c.ID
	return out, nil
}

func (h handlers) updateCredential(ctx context.Context, in *credUpdateInput) (*credOutput, error) {
	p, org := orgOf(ctx)
	b := in.Body
	c, err := h.Models.UpdateCredential(ctx, org, in.ID, models.CredentialPatch{Label: b.Label, APIKey: b.APIKey,
		BaseURLOverride: b.BaseURLOverride})
	if err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model_provider_credential.updated", "model_provider_credential", c.ID, toCredential(c))
	return &credOutput{Body: toCredential(c)}, nil
}

func (h handlers) deleteCredential(ctx context.Context, in *idInput) (*struct{}, error) {
	p, org := orgOf(ctx)
	if err := h.Models.DeleteCredential(ctx, org, in.ID); err != nil {
		return nil, problem(err)
	}
	record(ctx, h.Models.DB, p, "model_provider_credential.deleted", "model_provider_credential", in.ID, nil)
	return nil, nil
}

func (h handlers) testKey(ctx context.Context, in *credTestInput) (*testOutput, error) {
	b := in.Body
	return testOut(h.Models.TestKey(ctx, models.TestInput{ProviderID: b.ProviderID, APIKey: b.APIKey,
		BaseURLOverride: b.BaseURLOverride, ModelID: b.ModelID}))
}

func (h handlers) testCredential(ctx context.Context, in *credIDTestInput) (*testOutput, error) {
	_, org := orgOf(ctx)
	model := ""
	if in.Body != nil {
		model = in.Body.ModelID
	}
	return testOut(h.Models.TestCredential(ctx, org, in.ID, model))
}
