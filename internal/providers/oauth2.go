package providers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// maxTokenResponseBytes caps what is read from a token endpoint.
const maxTokenResponseBytes = 1 << 20

// OAuthStart is the answer of POST /api/connections/connect/{scope}/{name}: where to send the user, and the
// state (OAuth 2) or request token (OAuth 1.0a) that identifies the flow.
type OAuthStart struct {
	AuthURL string `json:"authUrl" doc:"Authorization URL to open (popup or redirect)"`
	State   string `json:"state" doc:"OAuth 2 state (the OAuth 1.0a request token for OAuth 1.0a providers)"`
}

// StartOAuth begins the connection flow of an OAuth 2 or OAuth 1.0a provider (PACKAGES.md §4.6) for the
// actor on a profile (the actor's default when profileID is ""). The provider must be enabled in the
// application and its admin credentials present (ErrProviderNotConfigured).
func (s *Connections) StartOAuth(ctx context.Context, a ConnectionActor, providerID string, scopes []string, profileID string) (*OAuthStart, error) {
	p, err := LoadProvider(ctx, s.DB, a.OrgID, providerID)
	if err != nil {
		return nil, err
	}
	switch p.AuthMode() {
	case afps.AuthOAuth2, afps.AuthOAuth1:
	default:
		return nil, fmt.Errorf("%w: %s uses %s: submit its credentials instead", ErrWrongAuthMode, providerID, p.AuthMode())
	}
	if err := checkRequestedScopes(scopes); err != nil {
		return nil, err
	}
	cred, err := enabledCredential(ctx, s.DB, a.AppID, p.ID)
	if err != nil {
		return nil, err
	}
	admin, err := decryptMap(s.Keys, cred.Envelope)
	if err != nil {
		return nil, err
	}
	profileID, err = connectionProfile(ctx, s.DB, a, profileID)
	if err != nil {
		return nil, err
	}
	if p.AuthMode() == afps.AuthOAuth1 {
		return s.startOAuth1(ctx, a, p, cred, admin, profileID)
	}
	return s.startOAuth2(ctx, a, p, cred, admin, profileID, scopes)
}

func checkRequestedScopes(scopes []string) error {
	if len(scopes) > maxRequestedScopes {
		return &ValidationError{Issues: []FieldIssue{{Field: "scopes", Code: "out_of_range",
			Message: fmt.Sprintf("at most %d scopes", maxRequestedScopes)}}}
	}
	for i, sc := range scopes {
		if sc == "" || len(sc) > maxRequestedScopeLn || strings.ContainsAny(sc, " \t\r\n\x00") {
			return &ValidationError{Issues: []FieldIssue{{Field: fmt.Sprintf("scopes[%d]", i), Code: "invalid_value",
				Message: "must be a non-empty scope without whitespace"}}}
		}
	}
	return nil
}

// oauth2Client returns the OAuth 2 admin credentials (clientId, clientSecret).
func oauth2Client(p *Provider, admin map[string]string) (id, secret string, err error) {
	id, secret = admin["clientId"], admin["clientSecret"]
	if id == "" || secret == "" {
		return "", "", fmt.Errorf("%w: %s needs clientId and clientSecret (PUT /api/providers/credentials/%s)",
			ErrProviderNotConfigured, p.ID, p.ID)
	}
	return id, secret, nil
}

func (s *Connections) startOAuth2(ctx context.Context, a ConnectionActor, p *Provider, cred *appCredential, admin map[string]string,
	profileID string, requested []string) (*OAuthStart, error) {
	o := p.Def().OAuth2
	if o == nil {
		return nil, fmt.Errorf("%w: %s has no oauth2 definition", ErrProviderNotConfigured, p.ID)
	}
	clientID, _, err := oauth2Client(p, admin)
	if err != nil {
		return nil, err
	}
	st := s.newState(a, p, cred, profileID)
	st.State = ids.UUID()
	st.ScopesRequested = unionScopes(o.DefaultScopes, requested)
	challenge := ""
	if o.PKCE() {
		st.CodeVerifier, challenge = pkcePair()
	}
	authURL, err := AuthorizationURL(o, clientID, st.RedirectURI, st.State, st.ScopesRequested, challenge)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrProviderNotConfigured, p.ID, err)
	}
	if err := s.saveState(ctx, stateKeyOAuth2+st.State, st); err != nil {
		return nil, err
	}
	return &OAuthStart{AuthURL: authURL, State: st.State}, nil
}

// unionScopes is defaults ∪ requested, in order, without duplicates or empty entries.
func unionScopes(defaults, requested []string) []string {
	out := []string{}
	for _, list := range [][]string{defaults, requested} {
		for _, sc := range list {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// pkcePair returns an S256 code verifier (32 random bytes, base64url: 43 characters) and its challenge.
func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizationURL builds the authorize redirect: authorizationUrl?client_id&redirect_uri&response_type=code
// &state[&scope][&code_challenge&code_challenge_method=S256], then authorizationParams (which may override
// the earlier members). Query members already in authorizationUrl are kept.
func AuthorizationURL(o *afps.OAuth2Config, clientID, redirectURI, state string, scopes []string, challenge string) (string, error) {
	u, err := url.Parse(o.AuthorizationURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", errors.New("authorizationUrl must be an absolute http(s) URL")
	}
	q := u.Query()
	q.Set("client_id", clientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("response_type", "code")
	q.Set("state", state)
	if len(scopes) > 0 {
		q.Set("scope", strings.Join(scopes, o.Separator()))
	}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	for _, k := range sortedKeys(o.AuthorizationParams) {
		q.Set(k, o.AuthorizationParams[k])
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}

// TokenError is a failed token request. Revoked reports the `invalid_grant` answer that means the grant (code
// or refresh token) is no longer valid; anything else is transient. The message never includes the response
// body.
type TokenError struct {
	Status int    // HTTP status, 0 when no response was received
	Code   string // the `error` member of the answer, when any
	Err    error  // the transport error, when any
}

func (e *TokenError) Error() string {
	switch {
	case e.Err != nil:
		return "token endpoint unreachable: " + e.Err.Error()
	case e.Code != "":
		return fmt.Sprintf("token endpoint answered %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("token endpoint answered %d", e.Status)
}

func (e *TokenError) Unwrap() error { return e.Err }

// Revoked reports an invalid_grant refusal.
func (e *TokenError) Revoked() bool {
	return e.Status >= 400 && e.Status < 500 && e.Code == "invalid_grant"
}

// tokenResponse is a successful token answer.
type tokenResponse struct {
	AccessToken  string
	RefreshToken string
	Scope        string
	HasScope     bool
	ExpiresIn    int64
	HasExpiry    bool
}

// expiresAt is the absolute expiry of the access token (zero when unknown).
func (t *tokenResponse) expiresAt(now time.Time) isotime.Time {
	if !t.HasExpiry || t.ExpiresIn <= 0 {
		return isotime.Time{}
	}
	return isotime.From(now.Add(time.Duration(t.ExpiresIn) * time.Second))
}

// SplitScopes splits a granted `scope` on whitespace, commas and literal "%20".
func SplitScopes(s string) []string {
	s = strings.ReplaceAll(s, "%20", " ")
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// tokenRequest posts a grant to a token endpoint through the outbound policy, with the provider's client
// authentication (client_secret_post or client_secret_basic) and body encoding (form or JSON).
func (s *Connections) tokenRequest(ctx context.Context, endpoint string, o *afps.OAuth2Config, clientID, clientSecret string,
	params [][2]string) (*tokenResponse, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &TokenError{Err: errors.New("token URL must be an absolute http(s) URL")}
	}
	basic := o.AuthMethod() == "client_secret_basic"
	if !basic {
		params = append(params, [2]string{"client_id", clientID}, [2]string{"client_secret", clientSecret})
	}
	var body []byte
	contentType := o.ContentType()
	if contentType == "application/json" {
		obj := make(map[string]string, len(params))
		for _, kv := range params {
			obj[kv[0]] = kv[1]
		}
		body, _ = json.Marshal(obj)
	} else {
		contentType = "application/x-www-form-urlencoded"
		form := url.Values{}
		for _, kv := range params {
			form.Add(kv[0], kv[1])
		}
		body = []byte(form.Encode())
	}
	ctx, cancel := context.WithTimeout(ctx, s.httpTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &TokenError{Err: errors.New("invalid token request")}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if basic {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	}
	resp, err := s.outbound().Do(req)
	if err != nil {
		return nil, &TokenError{Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes))
	if err != nil {
		return nil, &TokenError{Status: resp.StatusCode, Err: errors.New("reading the token response failed")}
	}
	fields := parseTokenBody(raw, resp.Header.Get("Content-Type"))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		code, _ := fields["error"].(string)
		return nil, &TokenError{Status: resp.StatusCode, Code: code}
	}
	t := &tokenResponse{}
	t.AccessToken, _ = fields["access_token"].(string)
	t.RefreshToken, _ = fields["refresh_token"].(string)
	if sc, ok := fields["scope"].(string); ok {
		t.Scope, t.HasScope = sc, true
	}
	t.ExpiresIn, t.HasExpiry = expiresIn(fields["expires_in"])
	if t.AccessToken == "" {
		code, _ := fields["error"].(string)
		return nil, &TokenError{Status: resp.StatusCode, Code: code, Err: errors.New("the token response has no access_token")}
	}
	return t, nil
}

// parseTokenBody decodes a token endpoint answer: JSON, or form encoding (some providers ignore Accept).
func parseTokenBody(raw []byte, contentType string) map[string]any {
	out := map[string]any{}
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(raw)
	if mt != "application/x-www-form-urlencoded" && len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if dec.Decode(&out) == nil {
			return out
		}
		out = map[string]any{}
	}
	if vals, err := url.ParseQuery(string(trimmed)); err == nil {
		for k, v := range vals {
			if len(v) > 0 {
				out[k] = v[0]
			}
		}
	}
	return out
}

// maxExpiresIn caps expires_in (ten years): larger values, and values that would overflow a duration, mean
// "does not expire in any practical sense".
const maxExpiresIn = 10 * 365 * 24 * 3600

// expiresIn reads a numeric expires_in (a JSON number, or digits in a string; upstream ignores strings),
// clamped to [0, maxExpiresIn].
func expiresIn(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return clampExpiry(n), true
		}
		if f, err := x.Float64(); err == nil {
			return clampExpiry(int64(max(min(f, maxExpiresIn), -1))), true
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return clampExpiry(n), true
		}
	}
	return 0, false
}

func clampExpiry(n int64) int64 {
	return max(min(n, maxExpiresIn), 0)
}

// scrubURLError drops the URL from a transport error (a query may carry secrets) and keeps the cause.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// oauth2Callback completes an OAuth 2 flow: code exchange, then the connection row.
func (s *Connections) oauth2Callback(ctx context.Context, q url.Values) CallbackResult {
	state := q.Get("state")
	if state == "" {
		return CallbackResult{Message: "The provider's answer carries no state."}
	}
	key := stateKeyOAuth2 + state
	if e := q.Get("error"); e != "" {
		st, err := s.takeState(ctx, key)
		res := CallbackResult{Message: "The authorization was not granted (" + e + "). You can close this window and try again."}
		if err == nil {
			res.ProviderID = st.ProviderID
		}
		return res
	}
	code := q.Get("code")
	if code == "" {
		return CallbackResult{Message: "The provider's answer carries no authorization code."}
	}
	st, err := s.takeState(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrStateNotFound) {
			s.Logger.ErrorContext(ctx, "oauth callback: state lookup failed", "error", err)
		}
		return CallbackResult{Message: "This connection attempt has expired or was already completed. Please start again."}
	}
	res := CallbackResult{ProviderID: st.ProviderID}
	p, cred, admin, err := s.flowProvider(ctx, st)
	if err != nil {
		s.Logger.WarnContext(ctx, "oauth callback: provider unavailable", "providerId", st.ProviderID, "error", err)
		res.Message = "The provider is no longer configured for this application."
		return res
	}
	o := p.Def().OAuth2
	clientID, clientSecret, err := oauth2Client(p, admin)
	if err != nil || o == nil {
		res.Message = "The provider is no longer configured for this application."
		return res
	}
	params := [][2]string{{"grant_type", "authorization_code"}, {"code", code}, {"redirect_uri", st.RedirectURI}}
	if st.CodeVerifier != "" {
		params = append(params, [2]string{"code_verifier", st.CodeVerifier})
	}
	for _, k := range sortedKeys(o.TokenParams) {
		params = append(params, [2]string{k, o.TokenParams[k]})
	}
	tok, err := s.tokenRequest(ctx, o.TokenURL, o, clientID, clientSecret, params)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.Revoked() {
			s.Logger.WarnContext(ctx, "oauth callback: code refused", "providerId", p.ID, "error", err)
			res.Message = "The provider refused the authorization (invalid_grant). Please start the connection again."
			return res
		}
		s.Logger.WarnContext(ctx, "oauth callback: token exchange failed", "providerId", p.ID, "error", err)
		s.restoreState(ctx, key, st)
		res.Message = "The provider could not complete the connection. Please try again."
		return res
	}
	granted := st.ScopesRequested
	if tok.HasScope {
		granted = SplitScopes(tok.Scope)
	}
	shortfall, creep := scopeDiff(st.ScopesRequested, granted)
	if len(creep) > 0 {
		s.Logger.InfoContext(ctx, "oauth callback: provider granted extra scopes", "providerId", p.ID, "scopes", creep)
	}
	creds := map[string]string{"access_token": tok.AccessToken}
	if tok.RefreshToken != "" {
		creds["refresh_token"] = tok.RefreshToken
	}
	id, err := s.storeFlowConnection(ctx, st, cred, creds, granted, len(shortfall) > 0, tok.expiresAt(s.now()))
	if err != nil {
		s.Logger.ErrorContext(ctx, "oauth callback: connection not stored", "providerId", p.ID, "error", err)
		res.Message = "The connection could not be saved. Please try again."
		return res
	}
	s.Logger.InfoContext(ctx, "oauth connection completed", "providerId", p.ID, "connectionId", id, "scopeShortfall", shortfall)
	res.OK, res.ConnectionID = true, id
	if len(shortfall) > 0 {
		res.Message = "Connected, but the provider did not grant every requested permission (" + strings.Join(shortfall, ", ") +
			"). Reconnect to grant them."
	}
	return res
}

// scopeDiff returns requested − granted (shortfall) and granted − requested (creep).
func scopeDiff(requested, granted []string) (shortfall, creep []string) {
	for _, r := range requested {
		if !slices.Contains(granted, r) {
			shortfall = append(shortfall, r)
		}
	}
	for _, g := range granted {
		if !slices.Contains(requested, g) {
			creep = append(creep, g)
		}
	}
	return shortfall, creep
}
