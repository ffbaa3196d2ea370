package llmproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/llm"
	"github.com/appstrate/appstrate-go/internal/models"
	"github.com/appstrate/appstrate-go/internal/netguard"
	"github.com/appstrate/appstrate-go/internal/runs"
	"github.com/appstrate/appstrate-go/internal/sink"
)

// Timeout bounds one proxied request, streaming included (LLM_PROXY_TIMEOUT_MS upstream).
const Timeout = 30 * time.Minute

// The APIs the proxy speaks, as named in its routes.
const (
	APIOpenAICompletions    = "openai-completions"
	APIAnthropicMessages    = "anthropic-messages"
	APIMistralConversations = "mistral-conversations"
)

// APIs lists the proxied APIs in route order.
var APIs = []string{APIOpenAICompletions, APIAnthropicMessages, APIMistralConversations}

// Error is a request the proxy refuses before reaching the provider.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// UnreachableError is a provider that could not be reached (502, or 504 on a timeout).
type UnreachableError struct {
	Host    string
	Timeout bool
	Err     error
}

func (e *UnreachableError) Error() string {
	if e.Timeout {
		return "LLM request timed out (" + e.Host + ")"
	}
	return "LLM request failed (" + e.Host + ")"
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Ledger records what the proxy metered (the runs service).
type Ledger interface {
	// ProxyRun checks that runID is a run of orgID (runs.ErrRunNotFound otherwise) and returns its application.
	ProxyRun(ctx context.Context, orgID, runID string) (string, error)
	RecordProxyUsage(ctx context.Context, u runs.ProxyUsage) error
}

// Service forwards LLM requests to the organizations' models.
type Service struct {
	Models *models.Service
	Ledger Ledger // nil: nothing is recorded
	// Guard is the outbound policy for base URLs an organization configured (the zero value refuses loopback
	// and private addresses). The operator's keys (Models.System) are reached without it.
	Guard netguard.Policy
	// Transport reaches the operator's base URLs (nil: a default transport without environment proxy).
	Transport http.RoundTripper
	Logger    *slog.Logger
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Caller is who sends the request.
type Caller struct {
	OrgID, AppID     string
	UserID, APIKeyID string
}

// Request is one proxied call.
type Request struct {
	API    string // one of APIs
	Caller Caller
	RunID  string // X-Run-Id ("" = none)
	Header http.Header
	Body   []byte
}

// forwardedRequestHeaders are the only caller headers sent upstream: the platform's own (Authorization,
// X-Org-Id, cookies, X-Run-Id…) never are.
var forwardedRequestHeaders = []string{"Content-Type", "Accept", "Anthropic-Version", "Anthropic-Beta", "Openai-Beta"}

// relayedResponseHeaders are the only upstream response headers passed back (RUNTIME.md §3.3).
var relayedResponseHeaders = []string{
	"Content-Type", "Retry-After", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
	"X-Ratelimit-Limit-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Requests",
	"X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens", "X-Request-Id", "Request-Id",
}

// Upstream is the provider's answer being relayed; call Relay once, then nothing else.
type Upstream struct {
	Status int
	Header http.Header // the relayed headers only

	svc     *Service
	req     Request
	model   models.Resolved
	resp    *http.Response
	cancel  context.CancelFunc
	started time.Time
}

// Forward resolves the preset, sends the request upstream and returns the answer's head. Refusals are
// *Error, unreachable providers *UnreachableError.
func (s *Service) Forward(ctx context.Context, req Request) (*Upstream, error) {
	wire, err := routeWire(req.API)
	if err != nil {
		return nil, err
	}
	if req.RunID != "" && s.Ledger != nil {
		app, err := s.Ledger.ProxyRun(ctx, req.Caller.OrgID, req.RunID)
		if errors.Is(err, runs.ErrRunNotFound) {
			return nil, refuse(http.StatusNotFound, "run_not_found", "Run %s not found (X-Run-Id)", req.RunID)
		}
		if err != nil {
			return nil, err
		}
		req.Caller.AppID = app
	}
	body, presetID, err := decodeBody(req.Body)
	if err != nil {
		return nil, err
	}
	m, err := s.resolve(ctx, req.Caller.OrgID, presetID, req.API, wire)
	if err != nil {
		return nil, err
	}
	body["model"], _ = json.Marshal(m.ModelID)
	if req.API == APIOpenAICompletions {
		includeStreamUsage(body)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("llm proxy: encode request: %w", err)
	}
	target, err := upstreamURL(m.BaseURL, wire)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(raw))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("llm proxy: %w", err)
	}
	for _, name := range forwardedRequestHeaders {
		if v := req.Header.Values(name); len(v) > 0 {
			out.Header[name] = append([]string(nil), v...)
		}
	}
	if out.Header.Get("Content-Type") == "" {
		out.Header.Set("Content-Type", "application/json")
	}
	injectKey(out.Header, wire, m.APIKey)
	started := time.Now()
	resp, err := s.client(m).Do(out)
	if err != nil {
		cancel()
		return nil, s.unreachable(out.URL, err)
	}
	u := &Upstream{Status: resp.StatusCode, Header: http.Header{}, svc: s, req: req, model: m, resp: resp, cancel: cancel,
		started: started}
	for _, name := range relayedResponseHeaders {
		if v := resp.Header.Values(name); len(v) > 0 {
			u.Header[name] = append([]string(nil), v...)
		}
	}
	if resp.StatusCode/100 != 2 {
		s.log().WarnContext(ctx, "llm proxy: the provider answered an error", "status", resp.StatusCode, "api", req.API,
			"model", m.ModelID, "host", out.URL.Host)
	}
	return u, nil
}

// Relay copies the body to w, calling flush after every chunk, meters it and records the usage. The error is
// the copy's (the caller went away, or the provider cut the stream); usage seen so far is recorded anyway.
func (u *Upstream) Relay(ctx context.Context, w io.Writer, flush func()) error {
	defer u.cancel()
	defer u.resp.Body.Close()
	meter, err := llm.NewMeter(string(mustWire(u.req.API)))
	if err != nil {
		return err
	}
	meter.SetContentType(u.resp.Header.Get("Content-Type"))
	copyErr := copyFlushing(io.MultiWriter(w, meter), u.resp.Body, flush)
	_ = meter.Close()
	if copyErr != nil {
		u.svc.log().WarnContext(ctx, "llm proxy: stream interrupted", "api", u.req.API, "error", copyErr)
	}
	u.record(context.WithoutCancel(ctx), meter)
	return copyErr
}

// Close releases an answer that will not be relayed.
func (u *Upstream) Close() {
	_ = u.resp.Body.Close()
	u.cancel()
}

// record writes the metered usage; an answer without usage (an error) is not recorded.
func (u *Upstream) record(ctx context.Context, meter *llm.Meter) {
	usage := meter.Usage()
	if usage.IsZero() || u.svc.Ledger == nil {
		return
	}
	var pricing llm.Pricing
	if u.model.Cost != nil {
		pricing = *u.model.Cost
	}
	requestID := u.resp.Header.Get("X-Request-Id")
	if requestID == "" {
		requestID = u.resp.Header.Get("Request-Id")
	}
	if requestID == "" || len(requestID) > runs.MaxRequestIDLength {
		requestID = ids.UUID()
	}
	c := u.req.Caller
	err := u.svc.Ledger.RecordProxyUsage(ctx, runs.ProxyUsage{OrgID: c.OrgID, AppID: c.AppID, UserID: c.UserID,
		APIKeyID: c.APIKeyID, RunID: u.req.RunID, RequestID: requestID, API: u.req.API, Model: u.model.ModelID,
		Usage: sink.TokenUsage{InputTokens: usage.InputTokens, OutputTokens: usage.OutputTokens,
			CacheCreationInputTokens: usage.CacheWriteTokens, CacheReadInputTokens: usage.CacheReadTokens},
		Cost: llm.Cost(usage, pricing), DurationMs: time.Since(u.started).Milliseconds()})
	if err != nil {
		u.svc.log().ErrorContext(ctx, "llm proxy: usage not recorded", "run", u.req.RunID, "error", err)
	}
}

// routeWire is the wire format a route speaks.
func routeWire(api string) (llm.API, error) {
	switch api {
	case APIOpenAICompletions, APIMistralConversations:
		return llm.OpenAIChat, nil
	case APIAnthropicMessages:
		return llm.Anthropic, nil
	}
	return "", refuse(http.StatusNotFound, "not_found", "The LLM proxy does not speak %q", api)
}

func mustWire(api string) llm.API {
	w, _ := routeWire(api)
	return w
}

// MaxBodyBytes bounds a request body (the pipeline's API_BODY_LIMIT_BYTES usually stops it earlier).
const MaxBodyBytes = 64 << 20

// decodeBody parses the request body, a JSON object with a non-empty string "model".
func decodeBody(raw []byte) (map[string]json.RawMessage, string, error) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, "", refuse(http.StatusBadRequest, "invalid_request", "The body must be a JSON object")
	}
	var preset string
	if err := json.Unmarshal(body["model"], &preset); err != nil || strings.TrimSpace(preset) == "" {
		return nil, "", refuse(http.StatusBadRequest, "invalid_request",
			"model is required: the id of one of the organization's model presets (GET /api/models)")
	}
	return body, strings.TrimSpace(preset), nil
}

// resolve finds the enabled preset and checks that the route speaks its wire format. OpenAI's own models
// (Responses by default) are reached through Chat Completions too, which OpenAI serves.
func (s *Service) resolve(ctx context.Context, orgID, preset, api string, wire llm.API) (models.Resolved, error) {
	if s.Models == nil {
		return models.Resolved{}, refuse(http.StatusNotFound, "model_not_found", "Model %q not found", preset)
	}
	m, err := s.Models.Resolve(ctx, orgID, preset)
	switch {
	case errors.Is(err, models.ErrNotFound) || errors.Is(err, models.ErrNoModel):
		return models.Resolved{}, refuse(http.StatusNotFound, "model_not_found",
			"Model preset %q not found or disabled in this organization (GET /api/models lists them)", preset)
	case errors.Is(err, models.ErrCredentialNotFound):
		return models.Resolved{}, refuse(http.StatusConflict, "model_not_configured",
			"Model preset %q has no usable provider credential", preset)
	case err != nil:
		return models.Resolved{}, fmt.Errorf("llm proxy: resolve model %s: %w", preset, err)
	}
	modelWire, err := llm.ParseAPI(m.APIShape)
	compatible := err == nil && (modelWire == wire || wire == llm.OpenAIChat && m.ProviderID == "openai")
	if !compatible {
		return models.Resolved{}, refuse(http.StatusBadRequest, "model_api_mismatch",
			"Model preset %q speaks %s, not %s: use /api/llm-proxy/%s", preset, m.APIShape, api, proxyRouteFor(m))
	}
	if strings.TrimSpace(m.BaseURL) == "" {
		return models.Resolved{}, refuse(http.StatusConflict, "model_not_configured", "Model preset %q has no base URL", preset)
	}
	return m, nil
}

// proxyRouteFor names the route a model is reached through ("" when none is).
func proxyRouteFor(m models.Resolved) string {
	w, err := llm.ParseAPI(m.APIShape)
	switch {
	case err != nil:
		return "(none: this wire format is not proxied)"
	case w == llm.Anthropic:
		return APIAnthropicMessages
	case w == llm.OpenAIChat || m.ProviderID == "openai":
		return APIOpenAICompletions
	}
	return "(none: " + m.APIShape + " is not proxied)"
}

// includeStreamUsage asks a streamed Chat Completions answer for its usage (the final chunk), so it can be
// metered, unless the caller already said.
func includeStreamUsage(body map[string]json.RawMessage) {
	var stream bool
	if json.Unmarshal(body["stream"], &stream) != nil || !stream {
		return
	}
	var opts map[string]json.RawMessage
	if raw, ok := body["stream_options"]; ok && json.Unmarshal(raw, &opts) != nil {
		return // not an object: left for the provider to refuse
	}
	if opts == nil {
		opts = map[string]json.RawMessage{}
	}
	if _, set := opts["include_usage"]; set {
		return
	}
	opts["include_usage"] = json.RawMessage("true")
	body["stream_options"], _ = json.Marshal(opts)
}

// upstreamURL is where a wire format's requests go from a base URL (as package llm builds it).
func upstreamURL(base string, wire llm.API) (string, error) {
	base = strings.TrimSuffix(strings.TrimSpace(base), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", refuse(http.StatusConflict, "model_not_configured", "The model's base URL %q is not an http(s) URL", base)
	}
	if wire == llm.Anthropic {
		if strings.HasSuffix(base, "/v1") {
			return base + "/messages", nil
		}
		return base + "/v1/messages", nil
	}
	return base + "/chat/completions", nil
}

// injectKey sets the provider key the way its API expects it.
func injectKey(h http.Header, wire llm.API, key string) {
	if key == "" {
		return
	}
	if wire == llm.Anthropic {
		h.Set("X-Api-Key", key)
		if h.Get("Anthropic-Version") == "" {
			h.Set("Anthropic-Version", "2023-06-01")
		}
		return
	}
	h.Set("Authorization", "Bearer "+key)
}

// client reaches m's base URL: directly for the operator's keys, through the guard for the organization's.
func (s *Service) client(m models.Resolved) *http.Client {
	if s.trusted(m.CredentialID) {
		t := s.Transport
		if t == nil {
			t = defaultTransport
		}
		return &http.Client{Transport: t, CheckRedirect: noRedirects}
	}
	tr := s.Guard.Transport()
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// defaultTransport reaches the operator's base URLs: no environment proxy (a local model server is the
// operator's choice), no response-header deadline (models think before they answer).
var defaultTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}()

// noRedirects relays a redirect instead of following it with the key attached.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (s *Service) trusted(credentialID string) bool {
	if s.Models == nil {
		return false
	}
	for _, k := range s.Models.System {
		if k.ID == credentialID {
			return true
		}
	}
	return false
}

// unreachable describes a failed upstream call without its query string (which may carry a key).
func (s *Service) unreachable(target *url.URL, err error) error {
	var netErr net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
	if errors.Is(err, netguard.ErrBlocked) {
		return refuse(http.StatusForbidden, "blocked_destination", "The model's base URL resolves to a blocked address (%s)", target.Host)
	}
	s.log().Warn("llm proxy: provider unreachable", "host", target.Host, "path", target.Path, "timeout", timeout,
		"error", strings.ReplaceAll(err.Error(), target.RawQuery, ""))
	return &UnreachableError{Host: target.Host, Timeout: timeout, Err: err}
}

// copyFlushing copies src to dst, flushing after every chunk so streamed events reach the caller as they come.
func copyFlushing(dst io.Writer, src io.Reader, flush func()) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return fmt.Errorf("write to caller: %w", werr)
			}
			if flush != nil {
				flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read provider: %w", err)
		}
	}
}
