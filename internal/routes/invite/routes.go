package invite

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/tenancy"
)

// RateLimitPerMinute is the budget of each client IP across both invitation routes.
const RateLimitPerMinute = 30

// Accounts is what the invitation routes need from the identity layer (*auth.Accounts).
type Accounts interface {
	// Authenticate returns the session principal of the request, or nil.
	Authenticate(r *http.Request) (*auth.Principal, error)
	CreateUserWithPassword(ctx context.Context, q store.Querier, nu auth.NewUser) (*auth.User, error)
	StartSession(ctx context.Context, userID, ip, userAgent string) (*auth.Session, error)
	SessionCookie(s *auth.Session) *http.Cookie
}

// Register adds the invitation routes.
func Register(api huma.API, svc *tenancy.Orgs, accounts Accounts, limiter ratelimit.Limiter) {
	h := handlers{svc: svc, accounts: accounts}
	limit := httpapi.RateLimit(limiter, RateLimitPerMinute, byIP)
	httpapi.Register(api, huma.Operation{
		OperationID: "getInvitationInfo",
		Method:      http.MethodGet,
		Path:        "/invite/{token}/info",
		Summary:     "Describe an invitation",
		Description: "Public. What the invitation page shows. 404 invitation_not_found; 410 invitation_accepted, " +
			"invitation_cancelled or invitation_expired. 30 requests per minute per IP.",
		Tags:        []string{"Invitations"},
		Security:    httpapi.Public,
		Errors:      []int{http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{limit},
	}, h.info)
	httpapi.Register(api, huma.Operation{
		OperationID: "acceptInvitation",
		Method:      http.MethodPost,
		Path:        "/invite/{token}/accept",
		Summary:     "Accept an invitation",
		Description: "Public; a session cookie is optional. When no account has the invited email, the body must carry a " +
			"password (8 to 128 characters): the account is created, joins the organization and is signed in (Set-Cookie). " +
			"When an account exists, a session of that same email joins the organization; without a session the answer " +
			"says requiresLogin (sign in, then post again); a session of another email is refused (403 email_mismatch). " +
			"30 requests per minute per IP.",
		Tags:        []string{"Invitations"},
		Security:    []map[string][]string{{}, {httpapi.SecurityCookie: {}}},
		Errors:      []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusGone, http.StatusTooManyRequests},
		Middlewares: huma.Middlewares{limit, h.optionalSession},
	}, h.accept)
}

// byIP keys both routes on the client IP alone, so guessing tokens (each a different path) shares one budget.
func byIP(ctx huma.Context) string {
	return "invite:ip:" + httpapi.ClientIPFrom(ctx.Context())
}

type handlers struct {
	svc      *tenancy.Orgs
	accounts Accounts
}

type sessionKey struct{}

type requestMeta struct {
	principal *auth.Principal // nil without a valid session
	userAgent string
}

// optionalSession reads the platform session of the request, if any; an invalid or expired cookie, or a
// session of another realm (OIDC end-users), counts as none.
func (h handlers) optionalSession(ctx huma.Context, next func(huma.Context)) {
	meta := requestMeta{userAgent: ctx.Header("User-Agent")}
	if r, _ := humago.Unwrap(ctx); r != nil {
		if p, err := h.accounts.Authenticate(r); err == nil && p != nil && p.Method == auth.MethodSession &&
			(p.Realm == "" || p.Realm == auth.RealmPlatform) {
			meta.principal = p
		}
	}
	next(huma.WithValue(ctx, sessionKey{}, meta))
}

type tokenParam struct {
	Token string `path:"token" doc:"Invitation token (64 hex characters)"`
}

type infoOutput struct {
	Body *tenancy.InvitationInfo
}

func (h handlers) info(ctx context.Context, in *tokenParam) (*infoOutput, error) {
	info, err := h.svc.InvitationInfo(ctx, in.Token)
	if err != nil {
		return nil, problem(err)
	}
	return &infoOutput{Body: info}, nil
}

type acceptInput struct {
	Token string `path:"token" doc:"Invitation token (64 hex characters)"`
	Body  *AcceptBody
}

// AcceptBody is the body of POST /invite/{token}/accept; only new users need it.
type AcceptBody struct {
	Password    string `json:"password,omitempty" minLength:"8" maxLength:"128" doc:"Password of the account to create (new users)"`
	DisplayName string `json:"displayName,omitempty" maxLength:"100" doc:"Name of the account to create; defaults to the email's local part"`
}

// AcceptResult is the answer of POST /invite/{token}/accept.
type AcceptResult struct {
	Success       bool   `json:"success"`
	IsNewUser     bool   `json:"isNewUser"`
	OrgID         string `json:"orgId"`
	RequiresLogin *bool  `json:"requiresLogin,omitempty" doc:"Existing users only: sign in as the invited email, then accept again"`
}

type acceptOutput struct {
	SetCookie []http.Cookie `header:"Set-Cookie"`
	Body      AcceptResult
}

func (h handlers) accept(ctx context.Context, in *acceptInput) (*acceptOutput, error) {
	meta, _ := ctx.Value(sessionKey{}).(requestMeta)
	req := tenancy.AcceptInput{Token: in.Token, CreateUser: h.createUser}
	if in.Body != nil {
		req.Password, req.DisplayName = in.Body.Password, in.Body.DisplayName
	}
	if p := meta.principal; p != nil {
		req.SessionUserID, req.SessionEmail = p.UserID, p.Email
	}
	res, err := h.svc.AcceptInvitation(ctx, req)
	if err != nil {
		return nil, problem(err)
	}
	out := &acceptOutput{Body: AcceptResult{Success: true, IsNewUser: res.IsNewUser, OrgID: res.OrgID}}
	if !res.IsNewUser {
		out.Body.RequiresLogin = &res.RequiresLogin
		return out, nil
	}
	s, err := h.accounts.StartSession(ctx, res.UserID, httpapi.ClientIPFrom(ctx), meta.userAgent)
	if err != nil {
		return nil, err // the account exists and joined: signing in from the login page still works
	}
	out.SetCookie = []http.Cookie{*h.accounts.SessionCookie(s)}
	return out, nil
}

// createUser creates the invited account inside the acceptance transaction: verified (the invitation link
// proves the address) and exempt from the signup policy.
func (h handlers) createUser(ctx context.Context, q store.Querier, email, password, name string) (string, error) {
	u, err := h.accounts.CreateUserWithPassword(ctx, q, auth.NewUser{Email: email, Password: password, Name: name,
		EmailVerified: true, SkipPolicy: true})
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// problem maps the service errors to problem+json; anything else is a 500.
func problem(err error) error {
	detail := tenancy.RuleDetail(err)
	var lengthErr *auth.PasswordLengthError
	switch {
	case errors.Is(err, tenancy.ErrInvitationNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "invitation_not_found", detail)
	case errors.Is(err, tenancy.ErrInvitationAccepted):
		return httpapi.NewProblem(http.StatusGone, "invitation_accepted", detail)
	case errors.Is(err, tenancy.ErrInvitationCancelled):
		return httpapi.NewProblem(http.StatusGone, "invitation_cancelled", detail)
	case errors.Is(err, tenancy.ErrInvitationExpired):
		return httpapi.NewProblem(http.StatusGone, "invitation_expired", detail)
	case errors.Is(err, tenancy.ErrEmailMismatch):
		return httpapi.NewProblem(http.StatusForbidden, "email_mismatch", detail)
	case errors.Is(err, tenancy.ErrNotFound):
		return httpapi.NewProblem(http.StatusNotFound, "invitation_not_found", "Invitation not found")
	case errors.Is(err, tenancy.ErrPasswordRequired):
		return passwordProblem("required", "A password is required to create your account")
	case errors.As(err, &lengthErr):
		msg := "Password must be at least 8 characters"
		if lengthErr.TooLong {
			msg = "Password must be at most 128 characters"
		}
		return passwordProblem("out_of_range", msg)
	case errors.Is(err, auth.ErrEmailTaken):
		return httpapi.Conflict("conflict", "An account with this email was created meanwhile; sign in and accept again")
	case errors.Is(err, auth.ErrInvalidEmail):
		return httpapi.BadRequest("invalid_request", "The invited email address cannot be used for an account")
	}
	return err
}

func passwordProblem(code, msg string) *httpapi.Problem {
	return httpapi.BadRequest("validation_failed", "password: "+msg).
		WithErrors(httpapi.FieldError{Field: "password", Code: code, Message: msg})
}
