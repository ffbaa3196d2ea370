package cli

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
)

// Request bodies as documented (the handlers read them with readParams, form or JSON).
type deviceCodeBody struct {
	ClientID string `json:"client_id" doc:"appstrate-cli"`
	Scope    string `json:"scope,omitempty" required:"false" doc:"Space-separated; intersected with the client's scopes (default: all of them)"`
}

type tokenBody struct {
	GrantType    string `json:"grant_type" enum:"urn:ietf:params:oauth:grant-type:device_code,refresh_token"`
	ClientID     string `json:"client_id" doc:"appstrate-cli"`
	DeviceCode   string `json:"device_code,omitempty" required:"false" doc:"Device-code grant"`
	RefreshToken string `json:"refresh_token,omitempty" required:"false" doc:"Refresh-token grant"`
}

type revokeBody struct {
	Token    string `json:"token" doc:"The refresh token"`
	ClientID string `json:"client_id" required:"false"`
}

// authDoc describes one mux endpoint for the OpenAPI document.
type authDoc struct {
	method, path, id, summary, description string
	body                                   any
	response                               any
	errorBody                              any
	errors                                 []int
	session                                bool
}

func documentAuth(api huma.API) {
	oauth, ba := oauthErrorBody{}, betterAuthError{}
	docs := []authDoc{
		{http.MethodPost, "/api/auth/device/code", "cliDeviceCode", "Start a CLI device authorization",
			"RFC 8628 device authorization for the public client `appstrate-cli`. Form-urlencoded or JSON body. The user " +
				"approves `user_code` at `verification_uri`; the CLI polls POST /api/auth/cli/token. Unknown or disabled " +
				"client: 400 `invalid_client`. 10 requests per minute per IP (429 problem+json).",
			deviceCodeBody{}, deviceCodeResponse{}, oauth, []int{400, 429}, false},
		{http.MethodPost, "/api/auth/cli/token", "cliToken", "Exchange a device code or a refresh token",
			"Form-urlencoded or JSON. The device-code grant answers `authorization_pending` until the user approves, " +
				"`slow_down` when polled faster than `interval`, `expired_token` / `access_denied` (the code is then gone); " +
				"the code is single use. The refresh-token grant rotates the token; presenting a used token revokes its " +
				"whole session (`invalid_grant` \"Refresh token has been revoked.\"). An optional `X-Appstrate-Device-Name` " +
				"header, the User-Agent and the IP are recorded on the session. Errors are RFC 6749 `{error, " +
				"error_description}`: 400, or 401 `invalid_client`. `Cache-Control: no-store`. 30 requests per minute per IP.",
			tokenBody{}, tokenResponse{}, oauth, []int{400, 401, 429}, false},
		{http.MethodPost, "/api/auth/cli/revoke", "cliRevoke", "Revoke a CLI refresh token",
			"Revokes the whole session of the token (logout). Always answers `{revoked:true}`.",
			revokeBody{}, revokeResponse{}, oauth, []int{400}, false},
		{http.MethodGet, "/api/auth/jwks", "jwks", "JSON Web Key Set",
			"The public ES256 keys that verify access tokens (`kid` header). Cacheable for 5 minutes.",
			nil, oidc.JWKSet{}, oauth, nil, false},
		{http.MethodGet, "/api/auth/cli/sessions", "listCliSessions", "List my CLI sessions",
			"The signed-in user's live CLI logins, most recently used first. Cookie (or bearer session token) only; " +
				"errors are Better Auth `{code, message}` documents.",
			nil, sessionList{}, ba, []int{401}, true},
		{http.MethodPost, "/api/auth/cli/sessions/revoke", "revokeCliSession", "Revoke one of my CLI sessions",
			"Revokes the session `familyId` of the signed-in user; `revoked:false` when there was none. Cookie only; a " +
				"request carrying cookies must come from a trusted Origin.",
			revokeSessionBody{}, revokeSessionResponse{}, ba, []int{400, 401, 403}, true},
		{http.MethodPost, "/api/auth/cli/sessions/revoke-all", "revokeAllCliSessions", "Revoke all my CLI sessions",
			"Revokes every CLI session of the signed-in user (`logout --all`). Cookie only; a request carrying cookies must " +
				"come from a trusted Origin.",
			nil, revokeAllResponse{}, ba, []int{401, 403}, true},
	}
	for _, d := range docs {
		document(api, d)
	}
}

func document(api huma.API, d authDoc) {
	oa := api.OpenAPI()
	reg := oa.Components.Schemas
	op := &huma.Operation{OperationID: d.id, Method: d.method, Path: d.path, Summary: d.summary, Description: d.description,
		Tags: []string{"Auth"}, Security: httpapi.Public, Responses: map[string]*huma.Response{}}
	if d.session {
		op.Security = []map[string][]string{{httpapi.SecurityCookie: {}}}
	}
	if d.body != nil {
		schema := reg.Schema(reflect.TypeOf(d.body), true, d.id+"Body")
		op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: schema},
			"application/json":                  {Schema: schema},
		}}
	}
	op.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{
		"application/json": {Schema: reg.Schema(reflect.TypeOf(d.response), true, d.id+"Response")},
	}}
	errSchema := reg.Schema(reflect.TypeOf(d.errorBody), true, "")
	for _, status := range d.errors {
		resp := &huma.Response{Description: http.StatusText(status), Content: map[string]*huma.MediaType{
			"application/json": {Schema: errSchema},
		}}
		if status == http.StatusTooManyRequests {
			resp.Content = map[string]*huma.MediaType{"application/problem+json": {Schema: reg.Schema(reflect.TypeOf(httpapi.Problem{}), true, "")}}
		}
		op.Responses[strconv.Itoa(status)] = resp
	}
	oa.AddOperation(op)
}
