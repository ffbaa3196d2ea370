package providers

import (
	"errors"
	"strconv"
	"strings"
)

// Errors the routes map to problems (errors.Is; most are wrapped with a detail naming the provider).
var (
	// ErrProviderNotFound: no such provider visible to the organization (404).
	ErrProviderNotFound = errors.New("provider not found")
	// ErrApplicationNotFound: the application is not one of the organization's (404).
	ErrApplicationNotFound = errors.New("application not found")
	// ErrApplicationForbidden: an API key addressed another application than its own (403).
	ErrApplicationForbidden = errors.New("API keys can only access their own application")
	// ErrSystemProvider: system providers cannot be modified or deleted (403 operation_not_allowed).
	ErrSystemProvider = errors.New("system providers cannot be modified")
	// ErrProviderNotEnabled: the application has no enabled credential row for the provider (403).
	ErrProviderNotEnabled = errors.New("provider not enabled for this application")
	// ErrProviderNotConfigured: the application's admin credentials miss what the flow needs (400
	// provider_not_configured).
	ErrProviderNotConfigured = errors.New("provider not configured for this application")
	// ErrWrongAuthMode: the connect route does not match the provider's auth mode (400 invalid_request).
	ErrWrongAuthMode = errors.New("wrong auth mode for this provider")
	// ErrProfileForbidden: the connection profile is not the actor's own nor one of the application (403).
	ErrProfileForbidden = errors.New("connection profile not accessible")
	// ErrConnectionNotFound: no such connection of the actor in the application (404).
	ErrConnectionNotFound = errors.New("connection not found")
	// ErrNeedsReconnection: the connection's credentials were revoked; the user must connect again (400
	// needs_reconnection).
	ErrNeedsReconnection = errors.New("connection needs reconnection")
	// ErrRefreshFailed: a token refresh failed for a transient reason; the connection is untouched.
	ErrRefreshFailed = errors.New("token refresh failed (transient)")
	// ErrProviderUnavailable: the provider's OAuth endpoint failed or could not be reached (502 provider_error).
	ErrProviderUnavailable = errors.New("the provider could not be reached")
	// ErrEncryptionUnavailable: no CONNECTION_ENCRYPTION_KEY, so no secret can be stored or read (500).
	ErrEncryptionUnavailable = errors.New("credential encryption is not configured")
	// ErrInvalidRequest: a malformed request the route reports as 400 invalid_request.
	ErrInvalidRequest = errors.New("invalid request")
)

// FieldIssue is one field-addressed validation problem ("credentials.api_key", "tokenUrl", ...).
type FieldIssue struct {
	Field   string
	Code    string // required, invalid_type, invalid_format, out_of_range, unknown_field, invalid_value
	Message string
}

// ValidationError is a refused body: 400 validation_failed with one entry per issue.
type ValidationError struct {
	Issues []FieldIssue
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Issues))
	for _, is := range e.Issues {
		parts = append(parts, is.Field+": "+is.Message)
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

// Detail is the problem detail: the first issue, and how many more there are.
func (e *ValidationError) Detail() string {
	if len(e.Issues) == 0 {
		return "Validation failed"
	}
	d := e.Issues[0].Field + ": " + e.Issues[0].Message
	if n := len(e.Issues) - 1; n > 0 {
		d += " (+" + strconv.Itoa(n) + " more)"
	}
	return d
}
