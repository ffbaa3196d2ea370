package authroutes

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

// BasePath is where Better Auth is mounted.
const BasePath = "/api/auth"

// Better Auth's default rate limits: 3 requests per 10 s per IP on the credential endpoints, 100 per 10 s
// on the others.
const (
	rateWindow      = 10 * time.Second
	rateMax         = 100
	rateMaxStrict   = 3
	maxAuthBodySize = 64 << 10
)

// strictRatePath reports the endpoints of Better Auth's special rate-limit rule.
func strictRatePath(path string) bool {
	return strings.HasPrefix(path, "/sign-in") || strings.HasPrefix(path, "/sign-up") ||
		strings.HasPrefix(path, "/change-password") || strings.HasPrefix(path, "/change-email")
}

// Routes serves /api/auth.
type Routes struct {
	acc     *auth.Accounts
	limiter ratelimit.Limiter
	log     *slog.Logger
}

// Register mounts the Better Auth endpoints on the server's mux (documented in its OpenAPI document under
// the "Auth" tag) and the bootstrap redemption as a huma operation.
func Register(srv *httpapi.Server, acc *auth.Accounts, limiter ratelimit.Limiter, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	rt := &Routes{acc: acc, limiter: limiter, log: logger}
	for _, e := range rt.endpoints() {
		srv.Mux().Handle(e.method+" "+BasePath+e.path, rt.wrap(e))
		document(srv.API(), e)
	}
	rt.registerBootstrap(srv.API())
}

// endpoint is one Better Auth route: its handler and what the OpenAPI document says about it.
type endpoint struct {
	method, path string
	operationID  string
	summary      string
	description  string
	body         any // request body type, nil for none
	query        []queryParam
	response     any // 200 body type
	redirect     bool
	session      bool // needs a session (documented security)
	errors       []int
	handle       func(w http.ResponseWriter, r *http.Request) error
}

type queryParam struct{ name, doc string }

func (rt *Routes) endpoints() []endpoint {
	return []endpoint{
		{method: http.MethodPost, path: "/sign-up/email", operationID: "signUpEmail", summary: "Sign up with email and password",
			description: "Creates a user with an email and a password and signs it in (Set-Cookie), unless email verification is required (SMTP configured): then a verification mail is sent and `token` is null. 3 requests per 10 s per IP.",
			body:        signUpBody{}, response: signUpResponse{}, errors: []int{400, 403, 422, 429}, handle: rt.signUp},
		{method: http.MethodPost, path: "/sign-in/email", operationID: "signInEmail", summary: "Sign in with email and password",
			description: "Checks the credentials and opens a session (Set-Cookie `better-auth.session_token`; the raw token is also in the body and the `set-auth-token` header for bearer use). 3 requests per 10 s per IP.",
			body:        signInBody{}, response: signInResponse{}, errors: []int{400, 401, 403, 429}, handle: rt.signIn},
		{method: http.MethodPost, path: "/sign-out", operationID: "signOut", summary: "Sign out",
			description: "Deletes the current session and clears the session cookie.",
			response:    successResponse{}, session: true, errors: []int{400, 403, 429}, handle: rt.signOut},
		{method: http.MethodGet, path: "/get-session", operationID: "getSession", summary: "Get the current session",
			description: "Returns the session and user of the session cookie (or bearer session token), or JSON `null` when there is none. Sessions are renewed (new expiry, cookie sent again) once a day.",
			query:       []queryParam{{"disableRefresh", "`true` to read the session without renewing it"}},
			response:    sessionResponse{}, session: true, errors: []int{429}, handle: rt.getSession},
		{method: http.MethodPost, path: "/send-verification-email", operationID: "sendVerificationEmail", summary: "Send a verification email",
			description: "Mails a new verification link when the address belongs to an unverified user. Always answers `{status:true}` (no account enumeration). Needs SMTP.",
			body:        sendVerificationBody{}, response: statusResponse{}, errors: []int{400, 403, 429}, handle: rt.sendVerificationEmail},
		{method: http.MethodGet, path: "/verify-email", operationID: "verifyEmail", summary: "Verify an email address",
			description: "Consumes the token of a verification link, marks the address verified and signs the user in; redirects (302) to `callbackURL` when given (with `?error=invalid_token` on failure).",
			query:       []queryParam{{"token", "The token of the verification link"}, {"callbackURL", "Where to redirect afterwards (path or trusted origin)"}},
			response:    verifyEmailResponse{}, redirect: true, errors: []int{401, 403, 429}, handle: rt.verifyEmail},
		{method: http.MethodPost, path: "/request-password-reset", operationID: "requestPasswordReset", summary: "Request a password reset link",
			description: "Mails a one-hour reset link (`<APP_URL>/reset-password?token=…`, or `redirectTo?token=…`) when the address belongs to a user. Always answers `{status:true}`. Needs SMTP.",
			body:        requestResetBody{}, response: statusResponse{}, errors: []int{400, 403, 429}, handle: rt.requestPasswordReset},
		{method: http.MethodPost, path: "/reset-password", operationID: "resetPassword", summary: "Reset a password with a reset token",
			description: "Sets a new password with the token of a reset link and ends every session of the user.",
			body:        resetPasswordBody{}, response: statusResponse{}, errors: []int{400, 403, 429}, handle: rt.resetPassword},
		{method: http.MethodPost, path: "/change-password", operationID: "changePassword", summary: "Change the password of the signed-in user",
			description: "Checks the current password and sets a new one; with `revokeOtherSessions` every other session of the user ends. 3 requests per 10 s per IP.",
			body:        changePasswordBody{}, response: changePasswordResponse{}, session: true, errors: []int{400, 401, 403, 429}, handle: rt.changePassword},
	}
}

// wrap applies Better Auth's request handling around a handler: rate limit, origin check, errors.
func (rt *Routes) wrap(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ae := rt.rateLimit(w, r, e.path); ae != nil {
			writeError(w, ae)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if ae := rt.checkOrigin(r); ae != nil {
				writeError(w, ae)
				return
			}
		}
		err := e.handle(w, r)
		if err == nil {
			return
		}
		var ae *authError
		if !errors.As(err, &ae) {
			rt.log.Error("auth endpoint failed", "path", r.URL.Path, "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
			ae = errInternal()
		}
		writeError(w, ae)
	})
}

func (rt *Routes) rateLimit(w http.ResponseWriter, r *http.Request, path string) *authError {
	if rt.limiter == nil {
		return nil
	}
	limit := rateMax
	if strictRatePath(path) {
		limit = rateMaxStrict
	}
	res, err := rt.limiter.Take(r.Context(), "ba:"+path+":"+httpapi.ClientIPFrom(r.Context()), limit, rateWindow)
	if err != nil {
		return nil // a broken limiter lets traffic through, as the rest of the API does
	}
	httpapi.SetRateLimitHeaders(w.Header(), httpapi.RateLimitState{Limit: res.Limit, Remaining: res.Remaining, Reset: res.Reset, Window: res.Window})
	if !res.Allowed {
		return tooManyRequests(max(int(math.Ceil(res.Reset.Seconds())), 1))
	}
	return nil
}

// checkOrigin is Better Auth's CSRF defence: a state-changing request that carries cookies must come from a
// trusted origin (Origin header, else Referer).
func (rt *Routes) checkOrigin(r *http.Request) *authError {
	if r.Header.Get("Cookie") == "" {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = auth.OriginOf(r.Header.Get("Referer"))
		if origin == "" {
			return errMissingOrigin()
		}
	} else {
		origin = auth.OriginOf(origin)
	}
	if !rt.acc.IsTrustedOrigin(origin) {
		return errInvalidOrigin()
	}
	return nil
}

// decode reads a JSON object body into v (an empty body is an empty object).
func decode(r *http.Request, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxAuthBodySize))
	if err != nil {
		return validationError("Invalid body: " + err.Error())
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		raw = []byte("{}")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return validationError("Invalid body: " + jsonErrorMessage(err))
	}
	return nil
}

// jsonErrorMessage describes a decode error without echoing body content (it may hold a password).
func jsonErrorMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return "[body." + typeErr.Field + "] expected " + typeErr.Type.String()
	}
	return "malformed JSON"
}

// sessionCookies sets the cookies of a new or renewed session, and the bearer plugin's set-auth-token header.
func (rt *Routes) sessionCookies(w http.ResponseWriter, s *auth.Session) {
	http.SetCookie(w, rt.acc.SessionCookie(s))
	if s.DontRemember {
		http.SetCookie(w, rt.acc.DontRememberCookie())
	}
	w.Header().Set("set-auth-token", s.Token)
	w.Header().Add("Access-Control-Expose-Headers", "set-auth-token")
}

func (rt *Routes) clearCookies(w http.ResponseWriter) {
	for _, c := range rt.acc.ClearSessionCookies() {
		http.SetCookie(w, c)
	}
}

// clientInfo is the IP and user agent recorded on sessions.
func clientInfo(r *http.Request) (ip, userAgent string) {
	return httpapi.ClientIPFrom(r.Context()), r.UserAgent()
}

// document adds e to the OpenAPI document.
func document(api huma.API, e endpoint) {
	oa := api.OpenAPI()
	reg := oa.Components.Schemas
	op := &huma.Operation{
		OperationID: e.operationID,
		Method:      e.method,
		Path:        BasePath + e.path,
		Summary:     e.summary,
		Description: e.description + " Errors are Better Auth `{code, message}` JSON documents, not problem+json.",
		Tags:        []string{"Auth"},
		Security:    httpapi.Public,
		Responses:   map[string]*huma.Response{},
	}
	if e.session {
		op.Security = []map[string][]string{{httpapi.SecurityCookie: {}}}
	}
	for _, q := range e.query {
		op.Parameters = append(op.Parameters, &huma.Param{Name: q.name, In: "query", Description: q.doc, Schema: &huma.Schema{Type: huma.TypeString}})
	}
	if e.body != nil {
		op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeOf(e.body), true, e.operationID+"Body")},
		}}
	}
	op.Responses["200"] = &huma.Response{Description: "OK", Content: map[string]*huma.MediaType{
		"application/json": {Schema: reg.Schema(reflect.TypeOf(e.response), true, e.operationID+"Response")},
	}}
	if e.redirect {
		op.Responses["302"] = &huma.Response{Description: "Redirect to callbackURL", Headers: map[string]*huma.Header{
			"Location": {Schema: &huma.Schema{Type: huma.TypeString}},
		}}
	}
	errSchema := reg.Schema(reflect.TypeOf(authError{}), true, "")
	for _, status := range e.errors {
		op.Responses[itoa(status)] = &huma.Response{Description: http.StatusText(status), Content: map[string]*huma.MediaType{
			"application/json": {Schema: errSchema},
		}}
	}
	oa.AddOperation(op)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// detached keeps request values but survives the client going away, for work that must finish (mail).
func detached(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
