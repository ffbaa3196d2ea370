package authroutes

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
)

type redeemInput struct {
	UserAgent string `header:"User-Agent"`
	Body      struct {
		Token    string `json:"token" minLength:"1" maxLength:"256" doc:"The AUTH_BOOTSTRAP_TOKEN value"`
		Email    string `json:"email" minLength:"3" maxLength:"320" doc:"Email of the owner to create"`
		Password string `json:"password" minLength:"8" maxLength:"128" doc:"Password of the owner (8 to 128 characters)"`
		Name     string `json:"name" maxLength:"255" doc:"Display name of the owner"`
	}
}

type redeemOutput struct {
	SetCookie []http.Cookie `header:"Set-Cookie"`
	Body      struct {
		OK     bool   `json:"ok"`
		UserID string `json:"userId"`
		OrgID  string `json:"orgId,omitempty" doc:"The organization created for the owner, when one was"`
	}
}

func (rt *Routes) registerBootstrap(api huma.API) {
	httpapi.Register(api, huma.Operation{
		OperationID: "redeemBootstrapToken",
		Method:      http.MethodPost,
		Path:        BasePath + "/bootstrap/redeem",
		Summary:     "Redeem the bootstrap token",
		Description: "Unattended install: redeems AUTH_BOOTSTRAP_TOKEN once to create the first owner (email verified) and " +
			"its organization, and signs the owner in (Set-Cookie). 5 requests per minute per IP.",
		Tags:        []string{"Auth"},
		Security:    httpapi.Public,
		Middlewares: huma.Middlewares{httpapi.RateLimit(rt.limiter, 5, httpapi.ByIP)},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict,
			http.StatusGone, http.StatusTooManyRequests},
	}, rt.redeemBootstrap)
}

func (rt *Routes) redeemBootstrap(ctx context.Context, in *redeemInput) (*redeemOutput, error) {
	res, err := rt.acc.RedeemBootstrap(ctx, auth.BootstrapRedemption{
		Token: in.Body.Token, Email: in.Body.Email, Password: in.Body.Password, Name: in.Body.Name,
		IP: httpapi.ClientIPFrom(ctx), UserAgent: in.UserAgent,
	})
	if err != nil {
		return nil, bootstrapProblem(err)
	}
	out := &redeemOutput{SetCookie: []http.Cookie{*rt.acc.SessionCookie(res.Session)}}
	out.Body.OK, out.Body.UserID, out.Body.OrgID = true, res.User.ID, res.OrgID
	return out, nil
}

func bootstrapProblem(err error) error {
	var lenErr *auth.PasswordLengthError
	var signupErr *auth.SignupError
	switch {
	case errors.Is(err, auth.ErrBootstrapUnavailable):
		return httpapi.NewProblem(http.StatusGone, "bootstrap_token_unavailable", "No bootstrap token is available on this instance")
	case errors.Is(err, auth.ErrBootstrapInvalid):
		return httpapi.NewProblem(http.StatusUnauthorized, "bootstrap_token_invalid", "Invalid bootstrap token")
	case errors.Is(err, auth.ErrBootstrapInProgress):
		return httpapi.Conflict("bootstrap_redeem_in_progress", "Another bootstrap redemption is in progress")
	case errors.Is(err, auth.ErrBootstrapUserExists):
		return httpapi.Conflict("bootstrap_user_exists", "A user with this email already exists")
	case errors.As(err, &signupErr):
		return httpapi.NewProblem(http.StatusForbidden, signupErr.Code, signupErr.Message)
	case errors.Is(err, auth.ErrInvalidEmail):
		return httpapi.BadRequest("invalid_request", "Invalid email").WithParam("email")
	case errors.As(err, &lenErr):
		return httpapi.BadRequest("invalid_request", "Password must be 8 to 128 characters").WithParam("password")
	}
	return err
}
