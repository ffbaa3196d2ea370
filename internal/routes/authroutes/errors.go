package authroutes

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// authError is a Better Auth error: a status and a `{code, message}` body.
type authError struct {
	Status  int    `json:"-"`
	Code    string `json:"code" doc:"Machine-readable error code (Better Auth style: UPPER_SNAKE_CASE)"`
	Message string `json:"message"`

	headers http.Header
}

func (e *authError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, message string) *authError {
	return &authError{Status: status, Code: code, Message: message}
}

func (e *authError) withHeader(name, value string) *authError {
	if e.headers == nil {
		e.headers = http.Header{}
	}
	e.headers.Set(name, value)
	return e
}

// The Better Auth errors these routes send (messages as BASE_ERROR_CODES).
var (
	errInvalidEmail     = func() *authError { return newError(http.StatusBadRequest, "INVALID_EMAIL", "Invalid email") }
	errPasswordTooShort = func() *authError { return newError(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password too short") }
	errPasswordTooLong  = func() *authError { return newError(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password too long") }
	errUserExists       = func() *authError {
		return newError(http.StatusUnprocessableEntity, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
	}
	errInvalidCredentials = func() *authError {
		return newError(http.StatusUnauthorized, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password")
	}
	errEmailNotVerified   = func() *authError { return newError(http.StatusForbidden, "EMAIL_NOT_VERIFIED", "Email not verified") }
	errFailedToGetSession = func() *authError {
		return newError(http.StatusBadRequest, "FAILED_TO_GET_SESSION", "Failed to get session")
	}
	errUnauthorized        = func() *authError { return newError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized") }
	errInvalidToken        = func() *authError { return newError(http.StatusBadRequest, "INVALID_TOKEN", "Invalid token") }
	errInvalidPassword     = func() *authError { return newError(http.StatusBadRequest, "INVALID_PASSWORD", "Invalid password") }
	errNoCredentialAccount = func() *authError {
		return newError(http.StatusBadRequest, "CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found")
	}
	errInvalidOrigin = func() *authError { return newError(http.StatusForbidden, "INVALID_ORIGIN", "Invalid origin") }
	errMissingOrigin = func() *authError {
		return newError(http.StatusForbidden, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin")
	}
	errInvalidCallbackURL = func() *authError {
		return newError(http.StatusForbidden, "INVALID_CALLBACK_URL", "Invalid callbackURL")
	}
	errInvalidRedirectURL = func() *authError {
		return newError(http.StatusForbidden, "INVALID_REDIRECT_URL", "Invalid redirectURL")
	}
	errVerificationDisabled = func() *authError {
		return newError(http.StatusBadRequest, "VERIFICATION_EMAIL_ISNT_ENABLED", "Verification email isn't enabled")
	}
	errResetPasswordDisabled = func() *authError {
		return newError(http.StatusBadRequest, "RESET_PASSWORD_DISABLED", "Reset password isn't enabled")
	}
	errInternal = func() *authError {
		return newError(http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "Internal Server Error")
	}
)

func validationError(message string) *authError {
	return newError(http.StatusBadRequest, "VALIDATION_ERROR", message)
}

func tooManyRequests(retryAfter int) *authError {
	return newError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.").
		withHeader("Retry-After", strconv.Itoa(retryAfter)).
		withHeader("X-Retry-After", strconv.Itoa(retryAfter))
}

// writeJSON sends v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code":"INTERNAL_SERVER_ERROR","message":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *authError) {
	for name, values := range e.headers {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	writeJSON(w, e.Status, e)
}
