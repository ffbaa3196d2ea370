package authroutes

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/appstrate/appstrate-go/internal/auth"
)

type signUpBody struct {
	_           struct{} `additionalProperties:"true"`
	Email       str      `json:"email" doc:"Email address (stored lower-cased)"`
	Password    str      `json:"password" doc:"8 to 128 characters"`
	Name        str      `json:"name" doc:"Display name"`
	Image       string   `json:"image,omitempty" required:"false" doc:"Avatar URL"`
	CallbackURL string   `json:"callbackURL,omitempty" required:"false" doc:"Where the verification link leads (path or trusted origin)"`
	RememberMe  *bool    `json:"rememberMe,omitempty" required:"false"`
}

type signUpResponse struct {
	Token *string    `json:"token" doc:"Session token, or null when email verification is required"`
	User  *auth.User `json:"user"`
}

type signInBody struct {
	_           struct{} `additionalProperties:"true"`
	Email       str      `json:"email"`
	Password    str      `json:"password"`
	CallbackURL string   `json:"callbackURL,omitempty" required:"false"`
	RememberMe  *bool    `json:"rememberMe,omitempty" required:"false" doc:"false: a one-day session whose cookie lasts the browser session"`
}

type signInResponse struct {
	Redirect bool       `json:"redirect"`
	Token    string     `json:"token"`
	URL      *string    `json:"url"`
	User     *auth.User `json:"user"`
}

type successResponse struct {
	Success bool `json:"success"`
}

type statusResponse struct {
	Status bool `json:"status"`
}

type sessionResponse struct {
	Session *auth.Session `json:"session"`
	User    *auth.User    `json:"user"`
}

type verifyEmailResponse struct {
	Status bool       `json:"status"`
	User   *auth.User `json:"user"`
}

type sendVerificationBody struct {
	_           struct{} `additionalProperties:"true"`
	Email       str      `json:"email"`
	CallbackURL string   `json:"callbackURL,omitempty" required:"false"`
}

type requestResetBody struct {
	_          struct{} `additionalProperties:"true"`
	Email      str      `json:"email"`
	RedirectTo string   `json:"redirectTo,omitempty" required:"false" doc:"Page that receives ?token=… (path or trusted origin); default <APP_URL>/reset-password"`
}

type resetPasswordBody struct {
	_           struct{} `additionalProperties:"true"`
	NewPassword str      `json:"newPassword"`
	Token       string   `json:"token,omitempty" required:"false" doc:"The reset token (may also be passed as ?token=)"`
}

type changePasswordBody struct {
	_                   struct{} `additionalProperties:"true"`
	CurrentPassword     str      `json:"currentPassword"`
	NewPassword         str      `json:"newPassword"`
	RevokeOtherSessions bool     `json:"revokeOtherSessions,omitempty" required:"false"`
}

type changePasswordResponse struct {
	Token *string    `json:"token" doc:"Always null: the current session stays valid"`
	User  *auth.User `json:"user"`
}

// checkURL validates a callbackURL / redirectTo against the trusted origins.
func (rt *Routes) checkURL(raw string, bad func() *authError) error {
	if raw != "" && !rt.acc.IsTrustedURL(raw) {
		return bad()
	}
	return nil
}

// mapAccountError turns service errors into Better Auth errors.
func mapAccountError(err error) error {
	var lenErr *auth.PasswordLengthError
	var signupErr *auth.SignupError
	switch {
	case errors.As(err, &lenErr):
		if lenErr.TooLong {
			return errPasswordTooLong()
		}
		return errPasswordTooShort()
	case errors.As(err, &signupErr):
		return newError(http.StatusForbidden, signupErr.Code, signupErr.Message)
	case errors.Is(err, auth.ErrInvalidEmail):
		return errInvalidEmail()
	case errors.Is(err, auth.ErrEmailTaken):
		return errUserExists()
	case errors.Is(err, auth.ErrInvalidCredentials):
		return errInvalidCredentials()
	case errors.Is(err, auth.ErrEmailNotVerified):
		return errEmailNotVerified()
	case errors.Is(err, auth.ErrInvalidToken):
		return errInvalidToken()
	case errors.Is(err, auth.ErrInvalidPassword):
		return errInvalidPassword()
	case errors.Is(err, auth.ErrNoCredentialAccount):
		return errNoCredentialAccount()
	}
	return err
}

func (rt *Routes) signUp(w http.ResponseWriter, r *http.Request) error {
	var b signUpBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("name", b.Name, "email", b.Email, "password", b.Password); err != nil {
		return err
	}
	if err := rt.checkURL(b.CallbackURL, errInvalidCallbackURL); err != nil {
		return err
	}
	u, err := rt.acc.SignUp(r.Context(), auth.NewUser{Email: b.Email.v, Password: b.Password.v, Name: b.Name.v, Image: b.Image})
	if err != nil {
		return mapAccountError(err)
	}
	if rt.acc.RequireEmailVerification() {
		if err := rt.acc.SendVerificationEmail(detached(r.Context()), u, b.CallbackURL); err != nil {
			rt.log.Error("send verification email after sign-up", "userId", u.ID, "error", err)
		}
		writeJSON(w, http.StatusOK, signUpResponse{User: u})
		return nil
	}
	ip, ua := clientInfo(r)
	s, err := rt.acc.StartBrowserSession(r.Context(), u.ID, ip, ua, b.RememberMe == nil || *b.RememberMe)
	if err != nil {
		return err
	}
	rt.sessionCookies(w, s)
	writeJSON(w, http.StatusOK, signUpResponse{Token: &s.Token, User: u})
	return nil
}

func (rt *Routes) signIn(w http.ResponseWriter, r *http.Request) error {
	var b signInBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("email", b.Email, "password", b.Password); err != nil {
		return err
	}
	if err := rt.checkURL(b.CallbackURL, errInvalidCallbackURL); err != nil {
		return err
	}
	if !auth.ValidEmail(auth.NormalizeEmail(b.Email.v)) {
		return errInvalidEmail()
	}
	u, err := rt.acc.SignInWithPassword(r.Context(), b.Email.v, b.Password.v)
	if err != nil {
		return mapAccountError(err)
	}
	ip, ua := clientInfo(r)
	s, err := rt.acc.StartBrowserSession(r.Context(), u.ID, ip, ua, b.RememberMe == nil || *b.RememberMe)
	if err != nil {
		return err
	}
	rt.sessionCookies(w, s)
	resp := signInResponse{Redirect: b.CallbackURL != "", Token: s.Token, User: u}
	if b.CallbackURL != "" {
		resp.URL = &b.CallbackURL
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (rt *Routes) signOut(w http.ResponseWriter, r *http.Request) error {
	token, ok := rt.acc.SessionToken(r)
	if !ok {
		rt.clearCookies(w)
		return errFailedToGetSession()
	}
	if err := rt.acc.DeleteSession(r.Context(), token); err != nil {
		return err
	}
	rt.clearCookies(w)
	writeJSON(w, http.StatusOK, successResponse{Success: true})
	return nil
}

func (rt *Routes) getSession(w http.ResponseWriter, r *http.Request) error {
	s, u, refreshed, err := rt.acc.SessionFromRequest(r, r.URL.Query().Get("disableRefresh") == "true")
	if err != nil {
		return err
	}
	if s == nil {
		if _, err := r.Cookie(rt.acc.Cookies().SessionCookieName()); err == nil {
			rt.clearCookies(w) // a stale cookie: drop it, as Better Auth does
		}
		writeJSON(w, http.StatusOK, nil)
		return nil
	}
	if refreshed {
		rt.sessionCookies(w, s)
	}
	writeJSON(w, http.StatusOK, sessionResponse{Session: s, User: u})
	return nil
}

func (rt *Routes) sendVerificationEmail(w http.ResponseWriter, r *http.Request) error {
	var b sendVerificationBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("email", b.Email); err != nil {
		return err
	}
	if err := rt.checkURL(b.CallbackURL, errInvalidCallbackURL); err != nil {
		return err
	}
	if !rt.acc.RequireEmailVerification() {
		return errVerificationDisabled()
	}
	if err := rt.acc.RequestVerificationEmail(detached(r.Context()), b.Email.v, b.CallbackURL); err != nil {
		rt.log.Error("send verification email", "error", err)
	}
	writeJSON(w, http.StatusOK, statusResponse{Status: true})
	return nil
}

func (rt *Routes) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	callback := q.Get("callbackURL")
	if err := rt.checkURL(callback, errInvalidCallbackURL); err != nil {
		return err
	}
	u, err := rt.acc.VerifyEmail(r.Context(), q.Get("token"))
	if errors.Is(err, auth.ErrInvalidToken) {
		if callback != "" {
			http.Redirect(w, r, withParam(callback, "error", "invalid_token"), http.StatusFound)
			return nil
		}
		return newError(http.StatusUnauthorized, "INVALID_TOKEN", "invalid_token")
	}
	if err != nil {
		return err
	}
	ip, ua := clientInfo(r)
	s, err := rt.acc.StartSession(r.Context(), u.ID, ip, ua)
	if err != nil {
		return err
	}
	rt.sessionCookies(w, s)
	if callback != "" {
		http.Redirect(w, r, callback, http.StatusFound)
		return nil
	}
	writeJSON(w, http.StatusOK, verifyEmailResponse{Status: true})
	return nil
}

// withParam appends key=value to a URL that may already have a query.
func withParam(raw, key, value string) string {
	sep := "?"
	if strings.Contains(raw, "?") {
		sep = "&"
	}
	return raw + sep + url.QueryEscape(key) + "=" + url.QueryEscape(value)
}

func (rt *Routes) requestPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var b requestResetBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("email", b.Email); err != nil {
		return err
	}
	if err := rt.checkURL(b.RedirectTo, errInvalidRedirectURL); err != nil {
		return err
	}
	if !rt.acc.RequireEmailVerification() {
		return errResetPasswordDisabled()
	}
	if err := rt.acc.RequestPasswordReset(detached(r.Context()), b.Email.v, b.RedirectTo); err != nil {
		rt.log.Error("send password reset email", "error", err)
	}
	writeJSON(w, http.StatusOK, statusResponse{Status: true})
	return nil
}

func (rt *Routes) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var b resetPasswordBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("newPassword", b.NewPassword); err != nil {
		return err
	}
	token := b.Token
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	if token == "" {
		return errInvalidToken()
	}
	if err := rt.acc.ResetPassword(r.Context(), token, b.NewPassword.v); err != nil {
		return mapAccountError(err)
	}
	writeJSON(w, http.StatusOK, statusResponse{Status: true})
	return nil
}

func (rt *Routes) changePassword(w http.ResponseWriter, r *http.Request) error {
	s, u, _, err := rt.acc.SessionFromRequest(r, true)
	if err != nil {
		return err
	}
	if s == nil {
		return errUnauthorized()
	}
	var b changePasswordBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := required("newPassword", b.NewPassword, "currentPassword", b.CurrentPassword); err != nil {
		return err
	}
	if err := rt.acc.ChangePassword(r.Context(), u.ID, s.ID, b.CurrentPassword.v, b.NewPassword.v, b.RevokeOtherSessions); err != nil {
		return mapAccountError(err)
	}
	writeJSON(w, http.StatusOK, changePasswordResponse{User: u})
	return nil
}
