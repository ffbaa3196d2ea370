package providers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/credentials"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Credential proxy limits (PACKAGES.md §5, RUNTIME.md §6).
const (
	DefaultProxyTimeout       = 30 * time.Second
	DefaultProxyStreamTimeout = 5 * time.Minute
	DefaultProxyMaxResponse   = 10 << 20  // relayed body of a buffered response
	DefaultProxyMaxStream     = 100 << 20 // relayed body of a streamed response
	DefaultProxyMaxRequest    = credentials.DefaultMaxBodyBytes
)

// CredentialProxy forwards a caller's request to a provider's API with the credentials of the caller's
// connection injected (API.md §4.14): the target must match the provider's authorizedUris on the first hop
// and on every redirect, every address is checked by the outbound policy, a 401 triggers one refresh and
// one replay, the relayed body is capped, and any echo of a credential in the answer is redacted.
type CredentialProxy struct {
	Connections *Connections
	Logger      *slog.Logger

	Timeout          time.Duration // buffered requests (DefaultProxyTimeout when zero)
	StreamTimeout    time.Duration // streamed responses (DefaultProxyStreamTimeout when zero)
	MaxResponseBytes int64         // DefaultProxyMaxResponse when zero
	MaxStreamBytes   int64         // DefaultProxyMaxStream when zero
	MaxRequestBytes  int64         // buffered request bodies (DefaultProxyMaxRequest when zero)
}

// NewCredentialProxy returns the proxy over the connection service.
func NewCredentialProxy(conns *Connections, logger *slog.Logger) *CredentialProxy {
	if logger == nil {
		logger = slog.Default()
	}
	return &CredentialProxy{Connections: conns, Logger: logger}
}

// ProxyRequest is one call through the proxy.
type ProxyRequest struct {
	Actor          ConnectionActor
	Method         string
	ProviderID     string      // X-Provider
	Target         string      // X-Target: URL template (placeholders of the connection's fields allowed)
	ProfileID      string      // X-Connection-Profile-Id ("" = the actor's default, PACKAGES.md §4.7 item 6)
	RunID          string      // X-Run-Id, recorded with the usage
	SubstituteBody bool        // X-Substitute-Body: placeholders in the body too
	StreamRequest  bool        // x-stream-request: forward the body as it arrives (no replay after a 401)
	StreamResponse bool        // x-stream-response: relay the answer as it arrives (up to MaxStreamBytes)
	Header         http.Header // the caller's headers; the platform's own and hop-by-hop ones are dropped
	Body           io.Reader   // nil = no body
}

// ProxyResponse is the provider's answer as relayed: status, filtered headers and a capped, redacted body.
type ProxyResponse struct {
	Status    int
	Header    http.Header
	Body      *RedactingReader // Close it; Truncated() is final once it returned io.EOF
	Refreshed bool             // the token was refreshed after a 401 (X-Auth-Refreshed: true)
}

// ProxyError is a call the proxy refused or could not complete; Code is the problem code.
type ProxyError struct {
	Status  int
	Code    string
	Message string
}

func (e *ProxyError) Error() string { return e.Code + ": " + e.Message }

func proxyErr(status int, code, msg string) *ProxyError {
	return &ProxyError{Status: status, Code: code, Message: msg}
}

// requestHeadersDropped are never forwarded: the caller's own credentials, the platform's headers, proxy
// control headers and hop-by-hop headers.
var requestHeadersDropped = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Host": true, "Connection": true,
	"Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Connection": true, "Content-Length": true, "Accept-Encoding": true, "Forwarded": true,
	"X-Org-Id": true, "X-Application-Id": true, "Appstrate-User": true, "Appstrate-Version": true,
	"Idempotency-Key": true, "X-Provider": true, "X-Target": true, "X-Session-Id": true, "X-Substitute-Body": true,
	"X-Run-Id": true, "X-Connection-Profile-Id": true, "X-Stream-Request": true, "X-Stream-Response": true,
	"X-Max-Response-Size": true, "X-Real-Ip": true, "X-Test-User": true,
}

// responseHeadersDropped are never relayed: hop-by-hop headers, cookies, and headers the platform sets.
var responseHeadersDropped = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Set-Cookie": true, "Set-Cookie2": true,
	"Content-Length": true, "Request-Id": true, "Appstrate-Version": true, "X-Auth-Refreshed": true,
	"X-Truncated": true, "Ratelimit": true, "Ratelimit-Policy": true,
}

func forwardedHeader(h http.Header) http.Header {
	out := http.Header{}
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if requestHeadersDropped[canon] || strings.HasPrefix(canon, "X-Forwarded-") || strings.HasPrefix(canon, "Sec-") {
			continue
		}
		out[canon] = append([]string(nil), values...)
	}
	return out
}

// Do performs one proxied call.
func (s *CredentialProxy) Do(ctx context.Context, req ProxyRequest) (*ProxyResponse, error) {
	started := time.Now()
	if req.StreamRequest && req.SubstituteBody {
		return nil, proxyErr(http.StatusBadRequest, "invalid_request", "X-Substitute-Body cannot be combined with a streamed request body")
	}
	if req.Target == "" || req.ProviderID == "" {
		return nil, proxyErr(http.StatusBadRequest, "invalid_request", "X-Provider and X-Target are required")
	}
	if (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.Body != nil {
		req.Body = nil // a GET body is never forwarded
	}
	db := s.Connections.DB
	profileID, err := proxyProfile(ctx, db, req.Actor, req.ProfileID)
	if err != nil {
		return nil, err
	}
	u, err := s.Connections.Credentials(ctx, req.Actor.OrgID, req.Actor.AppID, profileID, req.ProviderID)
	if err != nil {
		return nil, err
	}
	rules := u.Provider.Rules

	var body []byte
	replayable := !req.StreamRequest
	if req.Body != nil && !req.StreamRequest {
		limit := s.maxRequest()
		body, err = io.ReadAll(io.LimitReader(req.Body, limit+1))
		if err != nil {
			return nil, proxyErr(http.StatusBadRequest, "invalid_request", "Reading the request body failed")
		}
		if int64(len(body)) > limit {
			return nil, proxyErr(http.StatusRequestEntityTooLarge, "payload_too_large", "Request body too large")
		}
	}
	header := forwardedHeader(req.Header)
	timeout := s.timeout()
	if req.StreamResponse || req.StreamRequest {
		timeout = s.streamTimeout()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	send := func(creds map[string]string) (*http.Response, error) {
		var rd io.Reader
		switch {
		case req.StreamRequest && req.Body != nil:
			rd = req.Body
		case body != nil:
			rd = bytes.NewReader(body)
		}
		out, err := credentials.NewRequest(ctx, req.Method, req.Target, header, rd, rules, creds,
			credentials.Options{SubstituteBody: req.SubstituteBody, MaxBodyBytes: s.maxRequest()})
		if err != nil {
			return nil, err
		}
		client := &http.Client{Transport: s.transport(), CheckRedirect: s.checkRedirect(rules)}
		return client.Do(out)
	}

	resp, err := send(u.Credentials)
	if err != nil {
		cancel()
		return nil, s.sendError(ctx, req, err)
	}
	refreshed := false
	if resp.StatusCode == http.StatusUnauthorized && u.Provider.AuthMode() == afps.AuthOAuth2 && u.Credentials["refresh_token"] != "" {
		nu, rerr := s.Connections.Refresh(ctx, u)
		switch {
		case rerr != nil:
			s.Logger.WarnContext(ctx, "credential proxy: refresh after 401 failed", "providerId", req.ProviderID, "error", rerr)
		case replayable:
			drain(resp)
			u, refreshed = nu, true
			resp, err = send(u.Credentials)
			if err != nil {
				cancel()
				return nil, s.sendError(ctx, req, err)
			}
			if resp.StatusCode == http.StatusUnauthorized {
				s.Logger.WarnContext(ctx, "credential proxy: upstream returned 401 after refresh", "providerId", req.ProviderID)
			}
		default:
			// The streamed body is gone: the caller replays (x-auth-refreshed) with the new token.
			u, refreshed = nu, true
		}
	}

	secretValues := redactionSecrets(rules, u.Credentials)
	limit := s.maxResponse()
	if req.StreamResponse {
		limit = s.maxStream()
	}
	out := &ProxyResponse{Status: resp.StatusCode, Header: relayedHeader(resp.Header, secretValues), Refreshed: refreshed,
		Body: NewRedactingReader(resp.Body, secretValues, limit, cancel)}
	s.recordUsage(ctx, req, resp.Request.URL, resp.StatusCode, time.Since(started))
	return out, nil
}

// sendError maps a failed send to a refusal or an upstream failure.
func (s *CredentialProxy) sendError(ctx context.Context, req ProxyRequest, err error) error {
	var blocked *netguard.BlockedError
	var notAuth *credentials.NotAuthorizedError
	var redirect *redirectRefused
	switch {
	case errors.As(err, &redirect):
		return proxyErr(http.StatusForbidden, "forbidden", redirect.Error())
	case errors.As(err, &notAuth):
		return proxyErr(http.StatusForbidden, "forbidden", notAuth.Error())
	case errors.As(err, &blocked):
		return proxyErr(http.StatusForbidden, "forbidden", "Blocked: the target resolves to a "+string(blocked.Reason)+" address")
	case errors.Is(err, credentials.ErrInvalidURL):
		return proxyErr(http.StatusBadRequest, "invalid_request", "Invalid X-Target: "+err.Error())
	case errors.Is(err, credentials.ErrUnresolvedPlaceholder):
		return proxyErr(http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, credentials.ErrBodyTooLarge):
		return proxyErr(http.StatusRequestEntityTooLarge, "payload_too_large", "Request body too large for placeholder substitution")
	case errors.Is(err, credentials.ErrInvalidHeader):
		return proxyErr(http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return proxyErr(http.StatusGatewayTimeout, "timeout", "The provider did not answer in time")
	}
	s.Logger.WarnContext(ctx, "credential proxy: upstream request failed", "providerId", req.ProviderID, "error", scrubURLError(err))
	return proxyErr(http.StatusBadGateway, "network_error", "Upstream request failed")
}

// redirectRefused is a redirect hop outside the provider's authorizedUris.
type redirectRefused struct {
	host   string
	reason string
}

func (e *redirectRefused) Error() string {
	return "Redirect blocked (" + e.reason + "): host=" + e.host
}

// checkRedirect re-validates every hop: the outbound policy's checks (hop count, scheme, userinfo, IP
// literals; names are checked when dialled), the provider's authorizedUris, and removal of the credential
// headers when the hop leaves the origin of the first request.
func (s *CredentialProxy) checkRedirect(rules credentials.ProviderRules) func(*http.Request, []*http.Request) error {
	policy := s.Connections.Net
	name, _ := rules.Header()
	return func(r *http.Request, via []*http.Request) error {
		if err := policy.CheckRedirect(r, via); err != nil {
			var blocked *netguard.BlockedError
			if errors.As(err, &blocked) {
				return &redirectRefused{host: r.URL.Hostname(), reason: "ssrf"}
			}
			return err
		}
		if err := credentials.Authorized(rules, r.URL.String()); err != nil {
			return &redirectRefused{host: r.URL.Hostname(), reason: "unauthorized"}
		}
		if len(via) > 0 && !sameOrigin(r.URL, via[0].URL) {
			for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie", name} {
				if h != "" {
					r.Header.Del(h)
				}
			}
		}
		return nil
	}
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func (s *CredentialProxy) transport() http.RoundTripper {
	s.Connections.outbound()
	return s.Connections.transport
}

func (s *CredentialProxy) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultProxyTimeout
}

func (s *CredentialProxy) streamTimeout() time.Duration {
	if s.StreamTimeout > 0 {
		return s.StreamTimeout
	}
	return DefaultProxyStreamTimeout
}

func (s *CredentialProxy) maxResponse() int64 {
	if s.MaxResponseBytes > 0 {
		return s.MaxResponseBytes
	}
	return DefaultProxyMaxResponse
}

func (s *CredentialProxy) maxStream() int64 {
	if s.MaxStreamBytes > 0 {
		return s.MaxStreamBytes
	}
	return DefaultProxyMaxStream
}

func (s *CredentialProxy) maxRequest() int64 {
	if s.MaxRequestBytes > 0 {
		return s.MaxRequestBytes
	}
	return DefaultProxyMaxRequest
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// relayedHeader filters the provider's response headers and redacts credential echoes in their values.
func relayedHeader(h http.Header, secretValues [][]byte) http.Header {
	out := http.Header{}
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if responseHeadersDropped[canon] || strings.HasPrefix(canon, "Access-Control-") {
			continue
		}
		for _, v := range values {
			out.Add(canon, string(redactAll([]byte(v), secretValues)))
		}
	}
	return out
}

// secretFieldRE names credential fields whose values are secrets (redacted from answers). Other fields
// (subdomains, account names) are left alone: they legitimately appear in answers.
var secretFieldRE = regexp.MustCompile(`(?i)(token|secret|key|password|passwd|auth|credential|signature|private)`)

// minRedactedLen is the shortest value redacted (shorter ones would mangle ordinary text).
const minRedactedLen = 6

// redactionSecrets lists the secret values of a connection, stored and materialised, longest first.
func redactionSecrets(rules credentials.ProviderRules, creds map[string]string) [][]byte {
	seen := map[string]bool{}
	add := func(field, v string) {
		if len(v) >= minRedactedLen && (field == rules.FieldName() || secretFieldRE.MatchString(field)) {
			seen[v] = true
		}
	}
	for k, v := range creds {
		add(k, v)
	}
	for k, v := range credentials.Materialize(rules, creds).Credentials {
		add(k, v)
	}
	out := make([][]byte, 0, len(seen))
	for v := range seen {
		out = append(out, []byte(v))
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return bytes.Compare(out[i], out[j]) < 0
	})
	return out
}

// Redacted replaces a credential echoed by a provider.
var Redacted = []byte("[REDACTED]")

func redactAll(b []byte, secretValues [][]byte) []byte {
	for _, sv := range secretValues {
		if bytes.Contains(b, sv) {
			b = bytes.ReplaceAll(b, sv, Redacted)
		}
	}
	return b
}

// RedactingReader relays a body with every secret value replaced by [REDACTED] and stops after limit bytes
// of output, reporting Truncated. Replacement is leftmost-longest and independent of read boundaries: a
// position is decided only once the longest secret starting there would be fully visible (or at EOF).
type RedactingReader struct {
	src       io.ReadCloser
	secrets   [][]byte // longest first
	hold      int      // longest secret length - 1
	limit     int64
	emitted   int64
	pending   []byte // read, not yet decided
	out       []byte // ready to return
	eof       bool
	truncated bool
	err       error
	onClose   func()
}

// NewRedactingReader wraps src; onClose (may be nil) runs once on Close. A limit ≤ 0 means no limit.
func NewRedactingReader(src io.ReadCloser, secretValues [][]byte, limit int64, onClose func()) *RedactingReader {
	svs := make([][]byte, 0, len(secretValues))
	hold := 0
	for _, s := range secretValues {
		if len(s) == 0 {
			continue
		}
		svs = append(svs, s)
		hold = max(hold, len(s)-1)
	}
	sort.SliceStable(svs, func(i, j int) bool { return len(svs[i]) > len(svs[j]) })
	return &RedactingReader{src: src, secrets: svs, hold: hold, limit: limit, onClose: onClose}
}

// Read implements io.Reader.
func (r *RedactingReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.truncated || (r.eof && len(r.pending) == 0) {
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
		if !r.eof {
			buf := make([]byte, 32<<10)
			n, err := r.src.Read(buf)
			r.pending = append(r.pending, buf[:n]...)
			if err == io.EOF {
				r.eof = true
			} else if err != nil {
				r.eof, r.err = true, err
			}
		}
		chunk := r.decide()
		if len(chunk) == 0 {
			continue
		}
		if r.limit > 0 && r.emitted+int64(len(chunk)) > r.limit {
			chunk = chunk[:r.limit-r.emitted]
			r.truncated = true
		}
		r.emitted += int64(len(chunk))
		r.out = chunk
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// decide returns the output for every pending position that can be decided now and keeps the rest.
func (r *RedactingReader) decide() []byte {
	safe := len(r.pending)
	if !r.eof {
		safe -= r.hold
	}
	if safe <= 0 {
		return nil
	}
	if len(r.secrets) == 0 {
		out := r.pending[:safe:safe]
		r.pending = append([]byte(nil), r.pending[safe:]...)
		return out
	}
	var out []byte
	i, last := 0, 0
	for i < safe {
		matched := 0
		for _, sv := range r.secrets {
			if r.pending[i] == sv[0] && bytes.HasPrefix(r.pending[i:], sv) {
				matched = len(sv)
				break
			}
		}
		if matched == 0 {
			i++
			continue
		}
		out = append(out, r.pending[last:i]...)
		out = append(out, Redacted...)
		i += matched
		last = i
	}
	out = append(out, r.pending[last:i]...)
	r.pending = append([]byte(nil), r.pending[i:]...)
	return out
}

// Truncated reports whether the body was cut at the limit (final once Read returned io.EOF).
func (r *RedactingReader) Truncated() bool { return r.truncated }

// Close closes the upstream body.
func (r *RedactingReader) Close() error {
	err := r.src.Close()
	if r.onClose != nil {
		r.onClose()
		r.onClose = nil
	}
	return err
}

// recordUsage writes one credential_proxy_usage row (best effort; the host only, never the URL).
func (s *CredentialProxy) recordUsage(ctx context.Context, req ProxyRequest, target *url.URL, status int, d time.Duration) {
	host := ""
	if target != nil {
		host = target.Hostname()
	}
	a := req.Actor
	reqID := a.Audit.RequestID
	if reqID == "" {
		reqID = "req_" + ids.UUID()
	}
	_, err := s.Connections.DB.ExecContext(context.WithoutCancel(ctx), `INSERT INTO credential_proxy_usage
		(org_id, application_id, api_key_id, user_id, end_user_id, run_id, provider_id, target_host, http_status,
		duration_ms, cost_usd, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (request_id) DO NOTHING`,
		a.OrgID, nullable(a.AppID), nullable(a.APIKeyID), nullable(a.UserID), nullable(a.EndUserID), nullable(req.RunID),
		req.ProviderID, host, status, d.Milliseconds(), 0.0, reqID, isotime.Now())
	if err != nil {
		s.Logger.WarnContext(ctx, "credential proxy: usage not recorded", "error", err)
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
