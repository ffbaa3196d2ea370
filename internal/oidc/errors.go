package oidc

import "errors"

// Error is an RFC 6749 error of the token endpoints: Code is the `error` member (invalid_grant,
// authorization_pending...), Description the `error_description`.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return "oidc: " + e.Code + ": " + e.Description }

// The RFC 6749 / RFC 8628 error codes.
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidClient        = "invalid_client"
	CodeUnauthorizedClient   = "unauthorized_client"
	CodeInvalidGrant         = "invalid_grant"
	CodeUnsupportedGrantType = "unsupported_grant_type"
	CodeAuthorizationPending = "authorization_pending"
	CodeSlowDown             = "slow_down"
	CodeExpiredToken         = "expired_token"
	CodeAccessDenied         = "access_denied"
	CodeServerError          = "server_error"
)

func oauthError(code, description string) *Error { return &Error{Code: code, Description: description} }

// Errors of the browser approval (the /activate pages) and of the session views.
var (
	ErrUnknownUserCode    = errors.New("oidc: unknown user code")
	ErrDeviceCodeExpired  = errors.New("oidc: the code has expired")
	ErrDeviceCodeHandled  = errors.New("oidc: the code was already approved or denied")
	ErrDeviceCodeLocked   = errors.New("oidc: too many failed attempts on this code")
	ErrRealmMismatch      = errors.New("oidc: this account cannot approve this client")
	ErrSessionNotFound    = errors.New("oidc: CLI session not found")
	ErrNoKeyring          = errors.New("oidc: no encryption key to protect the signing key")
	ErrInvalidAccessToken = errors.New("oidc: invalid access token")
)
