package providers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// OAuth 1.0a (RFC 5849) with HMAC-SHA1 signatures in the Authorization header, as upstream's oauth1.ts.

// PercentEncode is RFC 5849 §3.6 encoding: every byte but ALPHA, DIGIT, '-', '.', '_' and '~' as %XX (upper
// case hex) of its UTF-8 encoding.
func PercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		const hexUpper = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// OAuth1BaseString is the signature base string of RFC 5849 §3.4.1: the upper-case method, the base string URI
// (lower-case scheme and host, default port dropped, no query) and the normalised parameters (the URL's query
// parameters and params, each name and value encoded, sorted by name then value, oauth_signature excluded).
func OAuth1BaseString(method, rawURL string, params url.Values) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", errors.New("oauth1: invalid URL")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range u.Query() {
		for _, v := range vs {
			pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
		}
	}
	for k, vs := range params {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	norm := make([]string, len(pairs))
	for i, p := range pairs {
		norm[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(method) + "&" + PercentEncode(scheme+"://"+host+path) + "&" + PercentEncode(strings.Join(norm, "&")), nil
}

// OAuth1Signature is the HMAC-SHA1 signature (base64) of a base string under consumerSecret&tokenSecret.
func OAuth1Signature(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// oauth1Header signs a request and returns its Authorization header. extra holds the protocol parameters
// beyond the common ones (oauth_callback, oauth_token, oauth_verifier).
func oauth1Header(method, rawURL, consumerKey, consumerSecret, tokenSecret string, extra map[string]string, nonce, timestamp string) (string, error) {
	params := url.Values{}
	params.Set("oauth_consumer_key", consumerKey)
	params.Set("oauth_nonce", nonce)
	params.Set("oauth_signature_method", "HMAC-SHA1")
	params.Set("oauth_timestamp", timestamp)
	params.Set("oauth_version", "1.0")
	for k, v := range extra {
		params.Set(k, v)
	}
	base, err := OAuth1BaseString(method, rawURL, params)
	if err != nil {
		return "", err
	}
	params.Set("oauth_signature", OAuth1Signature(base, consumerSecret, tokenSecret))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = PercentEncode(k) + `="` + PercentEncode(params.Get(k)) + `"`
	}
	return "OAuth " + strings.Join(parts, ", "), nil
}

// ParseOAuth1Header decodes an `Authorization: OAuth k="v", …` header into its parameters (for servers and
// tests). Malformed members are skipped.
func ParseOAuth1Header(h string) url.Values {
	out := url.Values{}
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "OAuth ")
	if !ok {
		return out
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 == nil && err2 == nil {
			out.Set(dk, dv)
		}
	}
	return out
}

func oauth1Nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// oauth1Call POSTs a signed request without body and returns the form-encoded answer.
func (s *Connections) oauth1Call(ctx context.Context, endpoint, consumerKey, consumerSecret, tokenSecret string, extra map[string]string) (url.Values, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &TokenError{Err: errors.New("OAuth 1.0a endpoint must be an absolute http(s) URL")}
	}
	auth, err := oauth1Header(http.MethodPost, u.String(), consumerKey, consumerSecret, tokenSecret, extra,
		oauth1Nonce(), strconv.FormatInt(s.now().Unix(), 10))
	if err != nil {
		return nil, &TokenError{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.httpTimeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), http.NoBody)
	if err != nil {
		return nil, &TokenError{Err: errors.New("invalid OAuth 1.0a request")}
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/x-www-form-urlencoded, application/json;q=0.5")
	resp, err := s.outbound().Do(req)
	if err != nil {
		return nil, &TokenError{Err: scrubURLError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes))
	if err != nil {
		return nil, &TokenError{Status: resp.StatusCode, Err: errors.New("reading the OAuth 1.0a response failed")}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		te := &TokenError{Status: resp.StatusCode}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest {
			te.Code = "invalid_grant" // a refused token or verifier: the flow cannot be retried
		}
		return nil, te
	}
	fields := parseTokenBody(raw, resp.Header.Get("Content-Type"))
	out := url.Values{}
	for k, v := range fields {
		if s, ok := v.(string); ok {
			out.Set(k, s)
		}
	}
	if out.Get("oauth_token") == "" || out.Get("oauth_token_secret") == "" {
		return nil, &TokenError{Status: resp.StatusCode, Err: errors.New("the answer has no oauth_token/oauth_token_secret")}
	}
	return out, nil
}

// oauth1Consumer returns the OAuth 1.0a admin credentials (consumerKey, consumerSecret).
func oauth1Consumer(p *Provider, admin map[string]string) (key, secret string, err error) {
	key, secret = admin["consumerKey"], admin["consumerSecret"]
	if key == "" || secret == "" {
		return "", "", fmt.Errorf("%w: %s needs consumerKey and consumerSecret (PUT /api/providers/credentials/%s)",
			ErrProviderNotConfigured, p.ID, p.ID)
	}
	return key, secret, nil
}

// startOAuth1 gets a request token (signed with consumerSecret&, oauth_callback = the callback URL), stores
// the flow under it and returns the authorize URL.
func (s *Connections) startOAuth1(ctx context.Context, a ConnectionActor, p *Provider, cred *appCredential, admin map[string]string,
	profileID string) (*OAuthStart, error) {
	o := p.Def().OAuth1
	if o == nil || o.AuthorizationURL == "" {
		return nil, fmt.Errorf("%w: %s has no oauth1 authorizationUrl", ErrProviderNotConfigured, p.ID)
	}
	authz, err := url.Parse(o.AuthorizationURL)
	if err != nil || (authz.Scheme != "https" && authz.Scheme != "http") || authz.Host == "" {
		return nil, fmt.Errorf("%w: %s: oauth1.authorizationUrl must be an absolute http(s) URL", ErrProviderNotConfigured, p.ID)
	}
	key, secret, err := oauth1Consumer(p, admin)
	if err != nil {
		return nil, err
	}
	st := s.newState(a, p, cred, profileID)
	vals, err := s.oauth1Call(ctx, o.RequestTokenURL, key, secret, "", map[string]string{"oauth_callback": st.RedirectURI})
	if err != nil {
		s.Logger.WarnContext(ctx, "oauth1: request token failed", "providerId", p.ID, "error", err)
		return nil, fmt.Errorf("%w: %s: %v", ErrProviderUnavailable, p.ID, err)
	}
	st.RequestToken, st.TokenSecret = vals.Get("oauth_token"), vals.Get("oauth_token_secret")
	st.State = st.RequestToken
	if err := s.saveState(ctx, stateKeyOAuth1+st.RequestToken, st); err != nil {
		return nil, err
	}
	q := authz.Query()
	q.Set("oauth_token", st.RequestToken)
	for _, k := range sortedKeys(o.AuthorizationParams) {
		q.Set(k, o.AuthorizationParams[k])
	}
	authz.RawQuery, authz.Fragment = q.Encode(), ""
	return &OAuthStart{AuthURL: authz.String(), State: st.RequestToken}, nil
}

// oauth1Callback exchanges the verified request token for an access token and stores
// {consumer_key, access_token, access_token_secret}.
func (s *Connections) oauth1Callback(ctx context.Context, q url.Values) CallbackResult {
	token := q.Get("oauth_token")
	key := stateKeyOAuth1 + token
	verifier := q.Get("oauth_verifier")
	if verifier == "" {
		res := CallbackResult{Message: "The authorization was not granted. You can close this window and try again."}
		if st, err := s.takeState(ctx, key); err == nil {
			res.ProviderID = st.ProviderID
		}
		return res
	}
	st, err := s.takeState(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrStateNotFound) {
			s.Logger.ErrorContext(ctx, "oauth1 callback: state lookup failed", "error", err)
		}
		return CallbackResult{Message: "This connection attempt has expired or was already completed. Please start again."}
	}
	res := CallbackResult{ProviderID: st.ProviderID}
	p, cred, admin, err := s.flowProvider(ctx, st)
	if err != nil || p.Def().OAuth1 == nil {
		s.Logger.WarnContext(ctx, "oauth1 callback: provider unavailable", "providerId", st.ProviderID, "error", err)
		res.Message = "The provider is no longer configured for this application."
		return res
	}
	consumerKey, consumerSecret, err := oauth1Consumer(p, admin)
	if err != nil {
		res.Message = "The provider is no longer configured for this application."
		return res
	}
	vals, err := s.oauth1Call(ctx, p.Def().OAuth1.AccessTokenURL, consumerKey, consumerSecret, st.TokenSecret,
		map[string]string{"oauth_token": st.RequestToken, "oauth_verifier": verifier})
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.Revoked() {
			s.Logger.WarnContext(ctx, "oauth1 callback: verifier refused", "providerId", p.ID, "error", err)
			res.Message = "The provider refused the authorization. Please start the connection again."
			return res
		}
		s.Logger.WarnContext(ctx, "oauth1 callback: access token failed", "providerId", p.ID, "error", err)
		s.restoreState(ctx, key, st)
		res.Message = "The provider could not complete the connection. Please try again."
		return res
	}
	creds := map[string]string{"consumer_key": consumerKey, "access_token": vals.Get("oauth_token"),
		"access_token_secret": vals.Get("oauth_token_secret")}
	id, err := s.storeFlowConnection(ctx, st, cred, creds, []string{}, false, isotime.Time{})
	if err != nil {
		s.Logger.ErrorContext(ctx, "oauth1 callback: connection not stored", "providerId", p.ID, "error", err)
		res.Message = "The connection could not be saved. Please try again."
		return res
	}
	s.Logger.InfoContext(ctx, "oauth1 connection completed", "providerId", p.ID, "connectionId", id)
	res.OK, res.ConnectionID = true, id
	return res
}
