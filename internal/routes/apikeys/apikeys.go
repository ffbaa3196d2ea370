package apikeys

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var tags = []string{"API Keys"}

// APIKey is one entry of GET /api/api-keys (never the secret).
type APIKey struct {
	ID            string       `json:"id" format:"uuid"`
	Name          string       `json:"name"`
	KeyPrefix     string       `json:"keyPrefix" doc:"First 8 characters of the key (ask_xxxx)"`
	Scopes        []string     `json:"scopes"`
	CreatedBy     *string      `json:"createdBy"`
	CreatedByName *string      `json:"createdByName"`
	ExpiresAt     isotime.Time `json:"expiresAt" format:"date-time" nullable:"true"`
	LastUsedAt    isotime.Time `json:"lastUsedAt" format:"date-time" nullable:"true"`
	RevokedAt     isotime.Time `json:"revokedAt" format:"date-time" nullable:"true"`
	CreatedAt     isotime.Time `json:"createdAt" format:"date-time"`
}

// CreatedKey is the body of a successful creation: the only response that carries the raw key.
type CreatedKey struct {
	ID        string   `json:"id" format:"uuid"`
	Key       string   `json:"key" doc:"The raw key (ask_ + 48 hex). Shown once; store it now."`
	KeyPrefix string   `json:"keyPrefix"`
	Scopes    []string `json:"scopes"`
}

type scopesOutput struct {
	Body struct {
		Scopes []string `json:"scopes" doc:"Scopes the caller's role may grant to a key"`
	}
}

type listOutput struct {
	Body struct {
		APIKeys []APIKey `json:"apiKeys"`
	}
}

type createInput struct {
	Body struct {
		Name      string   `json:"name" minLength:"1" maxLength:"100"`
		ExpiresAt *string  `json:"expiresAt,omitempty" nullable:"true" format:"date-time" doc:"Future expiry (ISO 8601); null or absent = never"`
		Scopes    []string `json:"scopes,omitempty" doc:"Requested scopes; absent or empty = every scope the creator's role may grant. Unknown or non-grantable scopes are dropped."`
	}
}

type createOutput struct {
	Body CreatedKey
}

type revokeInput struct {
	ID string `path:"id" doc:"API key id (UUID)"`
}

type handlers struct{ keys *auth.APIKeys }

// Register adds the API key routes to api.
func Register(api huma.API, keys *auth.APIKeys) {
	h := handlers{keys: keys}
	httpapi.Register(api, huma.Operation{
		OperationID: "listAvailableApiKeyScopes", Method: http.MethodGet, Path: "/api/api-keys/available-scopes",
		Summary: "List grantable API key scopes", Tags: tags,
		Description: "The permissions the caller's role may grant to an API key. Requires api-keys:read.",
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
		Middlewares: huma.Middlewares{httpapi.Require("api-keys:read")},
	}, h.scopes)
	httpapi.Register(api, huma.Operation{
		OperationID: "listApiKeys", Method: http.MethodGet, Path: "/api/api-keys",
		Summary: "List API keys", Tags: tags,
		Description: "The non-revoked API keys of the current application, newest first. Requires api-keys:read.",
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
		Middlewares: huma.Middlewares{httpapi.Require("api-keys:read")},
	}, h.list)
	httpapi.Register(api, huma.Operation{
		OperationID: "createApiKey", Method: http.MethodPost, Path: "/api/api-keys",
		Summary: "Create an API key", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Creates a key bound to the current organization and application. The raw key is returned " +
			"once. Effective permissions are the key's scopes intersected with the creator's current role. " +
			"Requires api-keys:create.",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden},
		Middlewares: huma.Middlewares{httpapi.Require("api-keys:create"), withRequestInfo},
	}, h.create)
	httpapi.Register(api, huma.Operation{
		OperationID: "revokeApiKey", Method: http.MethodDelete, Path: "/api/api-keys/{id}",
		Summary: "Revoke an API key", Tags: tags, DefaultStatus: http.StatusNoContent,
		Description: "Revokes a key. A session may revoke any key of the organization; an API key only keys " +
			"of its own application. Requires api-keys:revoke.",
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
		Middlewares: huma.Middlewares{httpapi.Require("api-keys:revoke"), withRequestInfo},
	}, h.revoke)
}

func (h handlers) scopes(ctx context.Context, _ *struct{}) (*scopesOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	out := &scopesOutput{}
	out.Body.Scopes = auth.GrantableScopes(p.Role).Sorted()
	return out, nil
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*listOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	keys, err := h.keys.List(ctx, p.OrgID, p.ApplicationID)
	if err != nil {
		return nil, err
	}
	out := &listOutput{}
	out.Body.APIKeys = make([]APIKey, 0, len(keys))
	for _, k := range keys {
		out.Body.APIKeys = append(out.Body.APIKeys, APIKey{ID: k.ID, Name: k.Name, KeyPrefix: k.KeyPrefix,
			Scopes: k.Scopes, CreatedBy: k.CreatedBy, CreatedByName: k.CreatedByName, ExpiresAt: k.ExpiresAt,
			LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt})
	}
	return out, nil
}

func (h handlers) create(ctx context.Context, in *createInput) (*createOutput, error) {
	p, _ := auth.PrincipalFrom(ctx)
	req := auth.NewAPIKey{OrgID: p.OrgID, ApplicationID: p.ApplicationID, CreatedBy: p.UserID, CreatorRole: p.Role,
		Name: in.Body.Name, Scopes: in.Body.Scopes}
	if in.Body.ExpiresAt != nil {
		t, err := isotime.Parse(*in.Body.ExpiresAt)
		if err != nil {
			return nil, expiresAtProblem("invalid_format", "Expected an ISO 8601 date-time")
		}
		req.ExpiresAt = t
	}
	created, err := h.keys.Create(ctx, req, auditActor(ctx, p))
	if errors.Is(err, auth.ErrExpiryInPast) {
		return nil, expiresAtProblem("invalid_value", "Expiration date must be in the future")
	}
	if err != nil {
		return nil, err
	}
	return &createOutput{Body: CreatedKey{ID: created.ID, Key: created.Key, KeyPrefix: created.KeyPrefix, Scopes: created.Scopes}}, nil
}

func (h handlers) revoke(ctx context.Context, in *revokeInput) (*struct{}, error) {
	p, _ := auth.PrincipalFrom(ctx)
	appID := "" // sessions may revoke any key of the organization
	if p.IsAPIKey() {
		appID = p.ApplicationID
	}
	err := h.keys.Revoke(ctx, p.OrgID, appID, in.ID, auditActor(ctx, p))
	if errors.Is(err, auth.ErrAPIKeyNotFound) {
		return nil, httpapi.NotFound("API key not found")
	}
	return nil, err
}

func expiresAtProblem(code, msg string) *httpapi.Problem {
	return httpapi.BadRequest("validation_failed", "expiresAt: "+msg).
		WithErrors(httpapi.FieldError{Field: "expiresAt", Code: code, Message: msg})
}

// requestInfoKey carries the User-Agent of the request into handlers, for the audit trail.
type requestInfoKey struct{}

func withRequestInfo(ctx huma.Context, next func(huma.Context)) {
	next(huma.WithValue(ctx, requestInfoKey{}, ctx.Header("User-Agent")))
}

// auditActor is the audit event template of the caller: actor, client IP, user agent and request id.
func auditActor(ctx context.Context, p *auth.Principal) audit.Event {
	ev := audit.Event{IP: httpapi.ClientIPFrom(ctx), RequestID: httpapi.RequestIDFrom(ctx)}
	ev.UserAgent, _ = ctx.Value(requestInfoKey{}).(string)
	switch {
	case p.IsAPIKey():
		ev.ActorType, ev.ActorID = audit.ActorAPIKey, p.APIKeyID
	default:
		ev.ActorType, ev.ActorID = audit.ActorUser, p.UserID
	}
	return ev
}
