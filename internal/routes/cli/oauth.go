package cli

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
)

const timeMinute = time.Minute

// oauthErrorBody is an RFC 6749 error document.
type oauthErrorBody struct {
	Error            string `json:"error" doc:"RFC 6749 / RFC 8628 error code"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// deviceCodeResponse is the RFC 8628 device authorization response.
type deviceCodeResponse struct {
	DeviceCode              string `json:"device_code" doc:"Secret the CLI polls with"`
	UserCode                string `json:"user_code" doc:"8 letters of BCDFGHJKLMNPQRSTVWXZ, shown as XXXX-XXXX"`
	VerificationURI         string `json:"verification_uri" doc:"<APP_URL>/activate"`
	VerificationURIComplete string `json:"verification_uri_complete" doc:"<APP_URL>/activate?user_code=XXXXXXXX"`
	ExpiresIn               int    `json:"expires_in" doc:"Seconds (600)"`
	Interval                int    `json:"interval" doc:"Minimum seconds between polls (2)"`
}

// tokenResponse is a successful token response.
type tokenResponse struct {
	AccessToken      string `json:"access_token" doc:"ES256 JWT, 15 minutes"`
	RefreshToken     string `json:"refresh_token" doc:"Opaque, single use, rotated on every refresh"`
	TokenType        string `json:"token_type" enum:"Bearer"`
	ExpiresIn        int    `json:"expires_in" doc:"Seconds (900)"`
	RefreshExpiresIn int    `json:"refresh_expires_in" doc:"Seconds (2592000)"`
	Scope            string `json:"scope"`
}

type revokeResponse struct {
	Revoked bool `json:"revoked" enum:"true"`
}

// deviceCode is POST /api/auth/device/code.
func (rt *routes) deviceCode(w http.ResponseWriter, r *http.Request) {
	if rt.limited(w, r, "device-code", deviceCodeLimit) {
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeOAuth(w, http.StatusBadRequest, oauthErrorBody{Error: oidc.CodeInvalidRequest, ErrorDescription: err.Error()})
		return
	}
	da, err := rt.OIDC.RequestDeviceCode(r.Context(), params["client_id"], params["scope"])
	if err != nil {
		rt.writeError(w, r, err, http.StatusBadRequest)
		return
	}
	writeOAuth(w, http.StatusOK, deviceCodeResponse{DeviceCode: da.DeviceCode, UserCode: da.UserCode,
		VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		ExpiresIn: da.ExpiresIn, Interval: da.Interval})
}

// token is POST /api/auth/cli/token (device-code and refresh-token grants).
func (rt *routes) token(w http.ResponseWriter, r *http.Request) {
	if rt.limited(w, r, "token", tokenLimit) {
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeOAuth(w, http.StatusBadRequest, oauthErrorBody{Error: oidc.CodeInvalidRequest, ErrorDescription: err.Error()})
		return
	}
	ci := oidc.ClientInfo{IP: httpapi.ClientIPFrom(r.Context()), UserAgent: r.UserAgent(),
		DeviceName: r.Header.Get("X-Appstrate-Device-Name")}
	var set *oidc.TokenSet
	switch grant := params["grant_type"]; grant {
	case oidc.GrantDeviceCode:
		set, err = rt.OIDC.ExchangeDeviceCode(r.Context(), params["client_id"], params["device_code"], ci)
	case oidc.GrantRefreshToken:
		set, err = rt.OIDC.Refresh(r.Context(), params["client_id"], params["refresh_token"], ci)
	case "":
		err = &oidc.Error{Code: oidc.CodeInvalidRequest, Description: "Missing grant_type."}
	default:
		err = &oidc.Error{Code: oidc.CodeUnsupportedGrantType, Description: "Unsupported grant_type."}
	}
	if err != nil {
		rt.writeError(w, r, err, http.StatusUnauthorized)
		return
	}
	writeOAuth(w, http.StatusOK, tokenResponse{AccessToken: set.AccessToken, RefreshToken: set.RefreshToken,
		TokenType: "Bearer", ExpiresIn: set.ExpiresIn, RefreshExpiresIn: set.RefreshExpiresIn, Scope: set.Scope})
}

// revoke is POST /api/auth/cli/revoke: always {revoked:true} (RFC 7009: no oracle on token validity).
func (rt *routes) revoke(w http.ResponseWriter, r *http.Request) {
	params, err := readParams(r)
	if err != nil {
		writeOAuth(w, http.StatusBadRequest, oauthErrorBody{Error: oidc.CodeInvalidRequest, ErrorDescription: err.Error()})
		return
	}
	if err := rt.OIDC.RevokeRefreshToken(r.Context(), params["token"], params["client_id"]); err != nil {
		rt.Logger.Error("cli: revoke refresh token", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
	}
	writeOAuth(w, http.StatusOK, revokeResponse{Revoked: true})
}

// jwks is GET /api/auth/jwks.
func (rt *routes) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := rt.OIDC.JWKS(r.Context())
	if err != nil {
		rt.Logger.Error("cli: jwks", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		writeOAuth(w, http.StatusInternalServerError, oauthErrorBody{Error: oidc.CodeServerError, ErrorDescription: "Keys unavailable."})
		return
	}
	if set.Keys == nil {
		set.Keys = []oidc.JWK{}
	}
	body, _ := json.Marshal(set)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// writeError renders a service error: RFC 6749 codes with their status (invalid_client gets
// invalidClientStatus: 400 on the device endpoint, 401 on the token endpoint), anything else server_error.
func (rt *routes) writeError(w http.ResponseWriter, r *http.Request, err error, invalidClientStatus int) {
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		rt.Logger.Error("cli: oauth endpoint failed", "path", r.URL.Path, "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		writeOAuth(w, http.StatusInternalServerError, oauthErrorBody{Error: oidc.CodeServerError, ErrorDescription: "Internal server error."})
		return
	}
	status := http.StatusBadRequest
	switch oe.Code {
	case oidc.CodeInvalidClient:
		status = invalidClientStatus
	case oidc.CodeServerError:
		status = http.StatusInternalServerError
	}
	writeOAuth(w, status, oauthErrorBody{Error: oe.Code, ErrorDescription: oe.Description})
}

// writeOAuth sends an OAuth JSON document; token endpoint answers are never cached (RFC 6749 §5.1).
func writeOAuth(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
