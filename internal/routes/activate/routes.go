package activate

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/oidc"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

// Deps are what the pages need.
type Deps struct {
	OIDC     *oidc.Service
	Accounts *auth.Accounts
	Limiter  ratelimit.Limiter
	Secret   string // keys the CSRF tokens (the session-signing secret)
	Logger   *slog.Logger
}

// Rate limits of the approval (API.md §2.3): 5 per 15 minutes per IP on the page routes, plus Better Auth's
// 10 per minute per IP on its approve/deny endpoints; the sign-in form has Better Auth's 3 per 10 seconds.
const (
	answerLimit       = 5
	answerWindow      = 15 * time.Minute
	answerInnerLimit  = 10
	answerInnerWindow = time.Minute
	loginLimit        = 3
	loginWindow       = 10 * time.Second
	maxFormBody       = 16 << 10
)

type pages struct{ Deps }

// Register mounts the pages on the server's mux.
func Register(mux *http.ServeMux, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	p := &pages{d}
	mux.HandleFunc("GET /activate", p.show)
	mux.HandleFunc("POST /activate", p.enter)
	mux.HandleFunc("POST /activate/approve", p.answer(true))
	mux.HandleFunc("POST /activate/deny", p.answer(false))
	mux.HandleFunc("GET /auth/login", p.loginForm)
	mux.HandleFunc("POST /auth/login", p.login)
}

// signedIn returns the session user of the request (renewing the cookie when the session was renewed).
func (p *pages) signedIn(w http.ResponseWriter, r *http.Request) (*auth.Session, *auth.User, bool) {
	s, u, refreshed, err := p.Accounts.SessionFromRequest(r, false)
	if err != nil {
		p.Logger.Error("activate: session lookup", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
		p.render(w, http.StatusInternalServerError, "result", pageData{Title: "Erreur", Heading: "Erreur",
			Error: "Une erreur est survenue. Réessayez dans un instant."})
		return nil, nil, false
	}
	if s != nil && refreshed {
		http.SetCookie(w, p.Accounts.SessionCookie(s))
	}
	return s, u, true
}

// csrfToken binds a form to the session that rendered it.
func (p *pages) csrfToken(s *auth.Session) string {
	m := hmac.New(sha256.New, []byte(p.Secret))
	m.Write([]byte("appstrate/activate-csrf\x00" + s.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (p *pages) validCSRF(s *auth.Session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(p.csrfToken(s)))
}

// loginRedirect sends the browser to the sign-in form, coming back to returnTo.
func loginRedirect(w http.ResponseWriter, r *http.Request, returnTo string, status int) {
	http.Redirect(w, r, "/auth/login?returnTo="+url.QueryEscape(returnTo), status)
}

// activatePath is /activate with the code the user is working on.
func activatePath(userCode string) string {
	if userCode == "" {
		return "/activate"
	}
	return "/activate?user_code=" + url.QueryEscape(userCode)
}

// show is GET /activate[?user_code=].
func (p *pages) show(w http.ResponseWriter, r *http.Request) {
	input := r.URL.Query().Get("user_code")
	if len(input) > 64 {
		input = ""
	}
	s, u, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if s == nil {
		loginRedirect(w, r, activatePath(input), http.StatusFound)
		return
	}
	data := pageData{Title: "Connecter la CLI", Heading: "Connecter la CLI Appstrate", CSRF: p.csrfToken(s), Email: u.Email, Input: input}
	if strings.TrimSpace(input) == "" {
		p.render(w, http.StatusOK, "enter", data)
		return
	}
	dev, err := p.OIDC.PendingDevice(r.Context(), input)
	if err != nil {
		status, msg := p.codeError(r, err)
		data.Error = msg
		p.render(w, status, "enter", data)
		return
	}
	data.UserCode, data.Display, data.Client, data.Scopes = dev.UserCode, oidc.FormatUserCode(dev.UserCode), dev.ClientName, dev.Scopes
	if data.Client == "" {
		data.Client = dev.ClientID
	}
	p.render(w, http.StatusOK, "confirm", data)
}

// enter is POST /activate (user_code, _csrf): back to GET with the code.
func (p *pages) enter(w http.ResponseWriter, r *http.Request) {
	form, ok := p.form(w, r)
	if !ok {
		return
	}
	input := form.Get("user_code")
	s, _, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	if s == nil {
		loginRedirect(w, r, activatePath(input), http.StatusSeeOther)
		return
	}
	if !p.validCSRF(s, form.Get("_csrf")) {
		p.csrfRefused(w)
		return
	}
	if code, ok := oidc.NormalizeUserCode(input); ok {
		input = code
	}
	http.Redirect(w, r, activatePath(input), http.StatusSeeOther)
}

// answer is POST /activate/approve and /activate/deny (user_code, _csrf).
func (p *pages) answer(approve bool) http.HandlerFunc {
	name := "deny"
	if approve {
		name = "approve"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if p.limited(w, r, "activate-answer", answerLimit, answerWindow) ||
			p.limited(w, r, "device-"+name, answerInnerLimit, answerInnerWindow) {
			return
		}
		form, ok := p.form(w, r)
		if !ok {
			return
		}
		input := form.Get("user_code")
		s, u, ok := p.signedIn(w, r)
		if !ok {
			return
		}
		if s == nil {
			loginRedirect(w, r, activatePath(input), http.StatusSeeOther)
			return
		}
		if !p.validCSRF(s, form.Get("_csrf")) {
			p.OIDC.RecordApprovalFailure(r.Context(), input)
			p.csrfRefused(w)
			return
		}
		approver := oidc.Approver{UserID: u.ID, Realm: u.Realm}
		var err error
		if approve {
			err = p.OIDC.ApproveDevice(r.Context(), input, approver)
		} else {
			err = p.OIDC.DenyDevice(r.Context(), input, approver)
		}
		if err != nil {
			status, msg := p.codeError(r, err)
			p.render(w, status, "result", pageData{Title: "Connecter la CLI", Heading: "Impossible de terminer", Error: msg})
			return
		}
		if approve {
			p.render(w, http.StatusOK, "result", pageData{Title: "Appareil autorisé", Heading: "Appareil autorisé",
				Message: "La CLI est maintenant connectée à votre compte. Vous pouvez retourner à votre terminal et fermer cette page."})
			return
		}
		p.render(w, http.StatusOK, "result", pageData{Title: "Accès refusé", Heading: "Accès refusé",
			Message: "La demande de connexion a été refusée. Vous pouvez fermer cette page."})
	}
}

// codeError maps the service errors of a user code to a status and a French message.
func (p *pages) codeError(r *http.Request, err error) (int, string) {
	switch {
	case errors.Is(err, oidc.ErrUnknownUserCode):
		return http.StatusNotFound, "Code invalide. Vérifiez le code affiché dans votre terminal."
	case errors.Is(err, oidc.ErrDeviceCodeExpired):
		return http.StatusGone, "Ce code a expiré. Relancez la commande dans votre terminal pour en obtenir un nouveau."
	case errors.Is(err, oidc.ErrDeviceCodeHandled):
		return http.StatusGone, "Ce code a déjà été utilisé."
	case errors.Is(err, oidc.ErrDeviceCodeLocked):
		return http.StatusGone, "Trop de tentatives pour ce code. Relancez la commande dans votre terminal."
	case errors.Is(err, oidc.ErrRealmMismatch):
		return http.StatusForbidden, "Ce compte ne peut pas autoriser cette application."
	}
	p.Logger.Error("activate: device code", "requestId", httpapi.RequestIDFrom(r.Context()), "error", err)
	return http.StatusInternalServerError, "Une erreur est survenue. Réessayez dans un instant."
}

func (p *pages) csrfRefused(w http.ResponseWriter) {
	p.render(w, http.StatusForbidden, "result", pageData{Title: "Session expirée", Heading: "Session expirée",
		Error: "Le formulaire a expiré ou ne provient pas de cette page. Rechargez la page et réessayez."})
}

// form parses a small urlencoded form body.
func (p *pages) form(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, "result", pageData{Title: "Requête invalide", Heading: "Requête invalide",
			Error: "Le formulaire envoyé est invalide."})
		return nil, false
	}
	return r.PostForm, true
}

// limited takes one request from an IP budget; true means a 429 page was written. The RateLimit headers
// (API.md §3.5) describe the first budget of the request that is checked, or the one that refused it.
func (p *pages) limited(w http.ResponseWriter, r *http.Request, name string, n int, window time.Duration) bool {
	if p.Limiter == nil {
		return false
	}
	res, err := p.Limiter.Take(r.Context(), "page:"+name+":ip:"+httpapi.ClientIPFrom(r.Context()), n, window)
	if err != nil {
		return false
	}
	state := httpapi.RateLimitState{Limit: res.Limit, Remaining: res.Remaining, Reset: res.Reset, Window: res.Window}
	if res.Allowed {
		if w.Header().Get("RateLimit") == "" {
			httpapi.SetRateLimitHeaders(w.Header(), state)
		}
		return false
	}
	httpapi.SetRateLimitHeaders(w.Header(), state)
	retry := max(int((res.Reset+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	p.render(w, http.StatusTooManyRequests, "result", pageData{Title: "Trop de tentatives", Heading: "Trop de tentatives",
		Error: "Trop de tentatives depuis votre adresse. Réessayez dans quelques minutes."})
	return true
}

// render writes a page with the headers every page gets: no caching, no framing, no external resources.
func (p *pages) render(w http.ResponseWriter, status int, name string, data pageData) {
	var buf bytes.Buffer
	if err := templates[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		p.Logger.Error("activate: render", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
