package apiclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// NotLoggedInError is a profile without configuration or without stored tokens.
type NotLoggedInError struct{ Profile string }

func (e *NotLoggedInError) Error() string {
	return fmt.Sprintf("Profile %q not configured. Run: appstrate login --profile %s", e.Profile, e.Profile)
}

// AuthError is a session the server no longer accepts (revoked, expired, reused refresh token...).
type AuthError struct{ Msg string }

func (e *AuthError) Error() string { return e.Msg }

// APIError is a non-2xx answer. Message is the body's `message`, else its problem+json `detail`; Code is the
// problem's `code`.
type APIError struct {
	Status     int
	StatusText string
	Message    string
	Code       string
	RequestID  string
	Body       []byte
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", e.Status, e.StatusText)
	}
	if e.Code != "" && !strings.Contains(msg, "("+e.Code+")") {
		msg += " (" + e.Code + ")"
	}
	return fmt.Sprintf("API error (%d): %s", e.Status, msg)
}

// ErrorFromResponse builds the error of a non-2xx answer whose body was read into body.
func ErrorFromResponse(res *http.Response, body []byte) *APIError {
	e := &APIError{Status: res.StatusCode, StatusText: http.StatusText(res.StatusCode), Body: body,
		RequestID: res.Header.Get("Request-Id")}
	var p struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
		Title   string `json:"title"`
		Code    string `json:"code"`
		Error   any    `json:"error"`
	}
	if json.Unmarshal(body, &p) == nil {
		e.Code = p.Code
		switch {
		case p.Message != "":
			e.Message = p.Message
		case p.Detail != "":
			e.Message = p.Detail
		case p.Title != "":
			e.Message = p.Title
		}
		if s, ok := p.Error.(string); ok && e.Code == "" {
			e.Code = s
		}
	}
	return e
}
