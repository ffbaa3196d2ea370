package activate

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
)

// loginCSRFCookie carries the double-submit token of the sign-in form (there is no session to bind to yet).
const loginCSRFCookie = "appstrate.login_csrf"

// maxReturnTo bounds the returnTo parameter.
const maxReturnTo = 2048

// SafeReturnTo returns raw when it is a same-origin path ("/x…", not "//host" or "/\host", no control
// characters), else "/activate".
func SafeReturnTo(raw string) string {
	const fallback = "/activate"
	if raw == "" || len(raw) > maxReturnTo || raw[0] != '/' {
		return fallback
	}
	if len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\') {
		return fallback
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return fallback
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return fallback
	}
	// The decoded path must not turn into a protocol-relative URL either (/%2F%2Fhost).
	if strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/\\") {
		return fallback
	}
	return raw
}

func (p *pages) secureCookies() bool { return p.Accounts.Cookies().Secure }

// loginToken returns the CSRF token of the sign-in form, setting its cookie when the browser has none.
func (p *pages) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/auth/login", HttpOnly: true,
		Secure: p.secureCookies(), SameSite: http.SameSiteStrictMode})
	return token
}

// loginForm is GET /auth/login?returnTo=: the form, or straight back when already signed in.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) {
	returnTo := SafeReturnTo(r.URL.Query().Get("returnTo"))
	s, _, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if s != nil {
		http.Redirect(w, r, returnTo, http.StatusFound)
		return
	}
	p.render(w, http.StatusOK, "login", pageData{Title: "Connexion", Heading: "Connexion à Appstrate",
		CSRF: p.loginToken(w, r), ReturnTo: returnTo})
}

// login is POST /auth/login (email, password, returnTo, _csrf): signs in through the accounts service, sets
// the session cookie and goes back to returnTo.
func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	if p.limited(w, r, "login", loginLimit, loginWindow) {
		return
	}
	form, ok := p.form(w, r)
	if !ok {
		return
	}
	returnTo := SafeReturnTo(form.Get("returnTo"))
	email := strings.TrimSpace(form.Get("email"))
	data := pageData{Title: "Connexion", Heading: "Connexion à Appstrate", ReturnTo: returnTo, Input: email}
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form.Get("_csrf"))) != 1 {
		data.CSRF = p.loginToken(w, r)
		data.Error = "Le formulaire a expiré. Réessayez."
		p.render(w, http.StatusForbidden, "login", data)
		return
	}
	data.CSRF = c.Value
	u, err := p.Accounts.SignInWithPassword(r.Context(), email, form.Get("password"))
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		data.Error = "Adresse e-mail ou mot de passe incorrect."
		p.render(w, http.StatusUnauthorized, "login", data)
		return
	case errors.Is(err, auth.ErrEmailNotVerified):
		data.Error = "Votre adresse e-mail n'est pas encore vérifiée. Ouvrez le lien reçu par e-mail, puis réessayez."
		p.render(w, http.StatusForbidden, "login", data)
		return
	case err != nil:
		p.Logger.Error("activate: sign in", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		data.Error = "Une erreur est survenue. Réessayez dans un instant."
		p.render(w, http.StatusInternalServerError, "login", data)
		return
	}
	s, err := p.Accounts.StartBrowserSession(r.Context(), u.ID, httpapi.ClientIPFrom(r.Context()), r.UserAgent(), true)
	if err != nil {
		p.Logger.Error("activate: start session", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		data.Error = "Une erreur est survenue. Réessayez dans un instant."
		p.render(w, http.StatusInternalServerError, "login", data)
		return
	}
	http.SetCookie(w, p.Accounts.SessionCookie(s))
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/auth/login", MaxAge: -1, HttpOnly: true,
		Secure: p.secureCookies(), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}
