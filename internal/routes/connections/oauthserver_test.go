package connections_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// authServer is a real OAuth 2 authorization server and resource server on 127.0.0.1: authorize redirect
// with a code, token endpoint (authorization_code with PKCE S256 verification and client authentication,
// refresh_token with rotation), revocation, and a protected API.
type authServer struct {
	t   *testing.T
	srv *httptest.Server

	ClientID, ClientSecret string
	BasicAuth              bool  // expect client_secret_basic (else client_secret_post)
	JSONBody               bool  // expect a JSON token request body
	ExpiresIn              int64 // expires_in of issued access tokens (0: none)
	GrantScope             string

	mu          sync.Mutex
	codes       map[string]codeGrant
	access      map[string]bool // valid access tokens
	refresh     map[string]bool // valid refresh tokens
	Issued      []string        // every access and refresh token issued (for leak checks)
	Refreshes   int             // refresh_token grants served
	LastPKCE    string          // code_challenge_method of the last authorize request
	LastScope   string          // scope of the last authorize request
	APICalls    int
	LastAPIAuth string
}

type codeGrant struct {
	challenge, redirect, scope string
}

func newAuthServer(t *testing.T) *authServer {
	s := &authServer{t: t, ClientID: "client-abc", ClientSecret: "client-secret-xyz-123", ExpiresIn: 3600,
		codes: map[string]codeGrant{}, access: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /api/me", s.me)
	mux.HandleFunc("GET /api/echo", s.echo)
	mux.HandleFunc("GET /api/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *authServer) URL() string { return s.srv.URL }

func randToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *authServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID || q.Get("response_type") != "code" || q.Get("state") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	code := randToken("code_")
	s.mu.Lock()
	s.codes[code] = codeGrant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), scope: q.Get("scope")}
	s.LastPKCE, s.LastScope = q.Get("code_challenge_method"), q.Get("scope")
	s.mu.Unlock()
	target, _ := url.Parse(q.Get("redirect_uri"))
	tq := target.Query()
	tq.Set("code", code)
	tq.Set("state", q.Get("state"))
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "refused by the test server"})
}

// params reads a token request in the expected encoding and checks the client authentication.
func (s *authServer) params(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	out := map[string]string{}
	if s.JSONBody {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&out) != nil {
			tokenError(w, 400, "invalid_request")
			return nil, false
		}
	} else {
		if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			tokenError(w, 400, "invalid_request")
			return nil, false
		}
		for k := range r.PostForm {
			out[k] = r.PostForm.Get(k)
		}
	}
	id, secret, basic := r.BasicAuth()
	if s.BasicAuth {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !basic || out["client_secret"] != "" {
			tokenError(w, 401, "invalid_client")
			return nil, false
		}
	} else {
		if basic {
			tokenError(w, 401, "invalid_client")
			return nil, false
		}
		id, secret = out["client_id"], out["client_secret"]
	}
	if id != s.ClientID || secret != s.ClientSecret {
		tokenError(w, 401, "invalid_client")
		return nil, false
	}
	return out, true
}

func (s *authServer) issue(w http.ResponseWriter, scope string) {
	at, rt := randToken("at_"), randToken("rt_")
	s.access[at], s.refresh[rt] = true, true
	s.Issued = append(s.Issued, at, rt)
	body := map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer"}
	if s.ExpiresIn > 0 {
		body["expires_in"] = s.ExpiresIn
	}
	if s.GrantScope != "" {
		body["scope"] = s.GrantScope
	} else if scope != "" {
		body["scope"] = scope
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (s *authServer) token(w http.ResponseWriter, r *http.Request) {
	p, ok := s.params(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p["grant_type"] {
	case "authorization_code":
		g, found := s.codes[p["code"]]
		delete(s.codes, p["code"]) // single use
		if !found || g.redirect != p["redirect_uri"] {
			tokenError(w, 400, "invalid_grant")
			return
		}
		if g.challenge != "" {
			sum := sha256.Sum256([]byte(p["code_verifier"]))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
				tokenError(w, 400, "invalid_grant")
				return
			}
		}
		s.issue(w, g.scope)
	case "refresh_token":
		if !s.refresh[p["refresh_token"]] {
			tokenError(w, 400, "invalid_grant")
			return
		}
		delete(s.refresh, p["refresh_token"]) // rotation
		s.Refreshes++
		s.issue(w, "")
	default:
		tokenError(w, 400, "unsupported_grant_type")
	}
}

func (s *authServer) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	s.RevokeRefresh(r.PostForm.Get("token"))
	w.WriteHeader(http.StatusOK)
}

// RevokeRefresh invalidates one refresh token ("" = all of them).
func (s *authServer) RevokeRefresh(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token == "" {
		s.refresh = map[string]bool{}
		return
	}
	delete(s.refresh, token)
}

// refreshCount is the number of refresh_token grants served.
func (s *authServer) refreshCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Refreshes
}

// ExpireAccess invalidates every access token issued so far (the protected API answers 401).
func (s *authServer) ExpireAccess() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]bool{}
}

func (s *authServer) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.APICalls++
	s.LastAPIAuth = r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.access[tok]
}

func (s *authServer) me(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Set-Cookie", "session=abc; Path=/")
	_, _ = w.Write([]byte(`{"id":"user-42","name":"Alice"}`))
}

// echo answers the request's Authorization header, in the body and in a header: the proxy must redact it.
func (s *authServer) echo(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"authorization": r.Header.Get("Authorization")})
}

// oauth1Server is an OAuth 1.0a provider (request token → authorize → access token) that verifies every
// HMAC-SHA1 signature with its own implementation of RFC 5849, and a Trello-style API taking key/token query
// parameters.
type oauth1Server struct {
	t   *testing.T
	srv *httptest.Server

	ConsumerKey, ConsumerSecret string

	mu            sync.Mutex
	requestTokens map[string]string // token → secret
	verifiers     map[string]string // token → verifier
	callbacks     map[string]string // token → oauth_callback
	accessTokens  map[string]string // token → secret
	Issued        []string
	AuthzQuery    url.Values // query of the last authorize request
	BadSignatures int
}

func newOAuth1Server(t *testing.T) *oauth1Server {
	s := &oauth1Server{t: t, ConsumerKey: "consumer-key-1", ConsumerSecret: "consumer-secret-987",
		requestTokens: map[string]string{}, verifiers: map[string]string{}, callbacks: map[string]string{}, accessTokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /1/OAuthGetRequestToken", s.requestToken)
	mux.HandleFunc("GET /1/OAuthAuthorizeToken", s.authorize)
	mux.HandleFunc("POST /1/OAuthGetAccessToken", s.accessToken)
	mux.HandleFunc("GET /1/members/me", s.me)
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *oauth1Server) URL() string { return s.srv.URL }

// enc is RFC 3986 percent-encoding (independent of the package under test).
func enc(v string) string {
	e := url.QueryEscape(v)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "%7E", "~")
	for _, c := range "!*'()" {
		e = strings.ReplaceAll(e, string(c), fmt.Sprintf("%%%02X", c))
	}
	return e
}

// verify checks the request's OAuth signature under tokenSecret and returns its oauth_* parameters.
func (s *oauth1Server) verify(r *http.Request, tokenSecret string) (map[string]string, bool) {
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "OAuth ")
	if !ok {
		return nil, false
	}
	params := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		uk, _ := url.QueryUnescape(k)
		uv, _ := url.QueryUnescape(strings.Trim(v, `"`))
		params[uk] = uv
	}
	if params["oauth_signature_method"] != "HMAC-SHA1" || params["oauth_consumer_key"] != s.ConsumerKey {
		return nil, false
	}
	var pairs []string
	for k, v := range params {
		if k != "oauth_signature" {
			pairs = append(pairs, enc(k)+"="+enc(v))
		}
	}
	sort.Strings(pairs)
	base := "POST&" + enc("http://"+r.Host+r.URL.Path) + "&" + enc(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(enc(s.ConsumerSecret)+"&"+enc(tokenSecret)))
	mac.Write([]byte(base))
	if base64.StdEncoding.EncodeToString(mac.Sum(nil)) != params["oauth_signature"] {
		s.mu.Lock()
		s.BadSignatures++
		s.mu.Unlock()
		return nil, false
	}
	return params, true
}

func (s *oauth1Server) requestToken(w http.ResponseWriter, r *http.Request) {
	p, ok := s.verify(r, "")
	if !ok || p["oauth_callback"] == "" {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	tok, sec := randToken("rq_"), randToken("rqs_")
	s.mu.Lock()
	s.requestTokens[tok] = sec
	s.callbacks[tok] = p["oauth_callback"]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	_, _ = w.Write([]byte(url.Values{"oauth_token": {tok}, "oauth_token_secret": {sec}, "oauth_callback_confirmed": {"true"}}.Encode()))
}

// authorize approves at once and redirects to the callback the request token was issued for.
func (s *oauth1Server) authorize(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("oauth_token")
	s.mu.Lock()
	s.AuthzQuery = r.URL.Query()
	_, ok := s.requestTokens[tok]
	verifier := randToken("v_")
	s.verifiers[tok] = verifier
	callback := s.callbacks[tok]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "unknown token", http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, callback+"?"+url.Values{"oauth_token": {tok}, "oauth_verifier": {verifier}}.Encode(), http.StatusFound)
}

func (s *oauth1Server) accessToken(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	var tok string
	for _, part := range strings.Split(strings.TrimPrefix(h, "OAuth "), ",") {
		if k, v, _ := strings.Cut(strings.TrimSpace(part), "="); k == "oauth_token" {
			tok, _ = url.QueryUnescape(strings.Trim(v, `"`))
		}
	}
	s.mu.Lock()
	secret, known := s.requestTokens[tok]
	verifier := s.verifiers[tok]
	s.mu.Unlock()
	p, ok := s.verify(r, secret)
	if !known || !ok || p["oauth_verifier"] != verifier {
		http.Error(w, "invalid", http.StatusUnauthorized)
		return
	}
	at, as := randToken("a1_"), randToken("a1s_")
	s.mu.Lock()
	delete(s.requestTokens, tok)
	s.accessTokens[at] = as
	s.Issued = append(s.Issued, at, as)
	s.mu.Unlock()
	_, _ = w.Write([]byte(url.Values{"oauth_token": {at}, "oauth_token_secret": {as}}.Encode()))
}

func (s *oauth1Server) me(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	_, ok := s.accessTokens[q.Get("token")]
	s.mu.Unlock()
	if !ok || q.Get("key") != s.ConsumerKey {
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id":"trello-member","username":"alice"}`))
}
