package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/llm"
)

// LLMTimeout bounds one proxied LLM request, streaming included (RUNTIME.md §3.3).
const LLMTimeout = 30 * time.Minute

// hopByHop are the request and response headers that never cross a proxy.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// llmDroppedRequest are the other request headers not forwarded: the transport sets Host and Content-Length,
// negotiates compression itself (so the meter reads plain bytes), and the sidecar token stays here.
var llmDroppedRequest = map[string]bool{
	"Host": true, "Content-Length": true, "Accept-Encoding": true, "X-Sidecar-Token": true,
}

// llmResponseHeaders are the only response headers passed back to the agent (RUNTIME.md §3.3).
var llmResponseHeaders = []string{
	"Content-Type", "Retry-After", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset",
	"X-Ratelimit-Limit-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Requests",
	"X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens", "X-Request-Id",
}

// llmProxy is the /llm/* reverse proxy.
type llmProxy struct {
	base        *url.URL
	apiKey      string
	placeholder string
	api         string // MODEL_API; "" disables metering
	maxBody     int64
	transport   http.RoundTripper
	usage       *usageReporter // nil disables reporting
	logger      *slog.Logger
}

func newLLMTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // never an environment proxy; a local LLM on a private address is the operator's choice
	t.ResponseHeaderTimeout = 0
	return t
}

func (p *llmProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.base == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "LLM proxy not configured"})
		return
	}
	if r.ContentLength > p.maxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "Request body too large",
			"limit": p.maxBody, "actual": r.ContentLength, "envVar": "SIDECAR_MAX_REQUEST_BODY_BYTES"})
		return
	}
	if p.usage != nil { // pending from before the agent can see any answer until its usage is reported
		done := p.usage.begin()
		defer done()
	}
	ctx, cancel := context.WithTimeout(r.Context(), LLMTimeout)
	defer cancel()
	out, sniff, err := p.outgoing(ctx, w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.fetchFailed(w, r, out.URL, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	p.relay(w, r, resp, sniff)
}

// outgoing builds the upstream request: target URL, filtered headers with the placeholder swapped, and the
// body streamed through a model sniffer.
func (p *llmProxy) outgoing(ctx context.Context, w http.ResponseWriter, r *http.Request) (*http.Request, *modelSniffer, error) {
	target := p.targetURL(r.URL)
	sniff := &modelSniffer{}
	var body io.Reader
	if r.Body != nil && r.Body != http.NoBody {
		body = io.TeeReader(http.MaxBytesReader(w, r.Body, p.maxBody), sniff)
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid LLM request: %w", err)
	}
	out.ContentLength = r.ContentLength
	if body == nil {
		out.ContentLength = 0
	}
	out.Header = p.forwardHeader(r.Header)
	return out, sniff, nil
}

// targetURL is the base URL plus the request path without its "/llm" prefix, plus the query.
func (p *llmProxy) targetURL(in *url.URL) *url.URL {
	rest := strings.TrimPrefix(in.EscapedPath(), "/llm")
	u := *p.base
	basePath := strings.TrimSuffix(u.EscapedPath(), "/")
	u.RawPath = basePath + rest
	if unescaped, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = unescaped
	} else {
		u.Path, u.RawPath = basePath+rest, ""
	}
	u.RawQuery = in.RawQuery
	return &u
}

// forwardHeader copies the agent's headers without hop-by-hop and sidecar-local ones, replacing the first
// occurrence of the placeholder with the real key in every value.
func (p *llmProxy) forwardHeader(in http.Header) http.Header {
	connectionListed := map[string]bool{}
	for _, v := range in.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			connectionListed[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	out := http.Header{}
	for name, values := range in {
		canon := http.CanonicalHeaderKey(name)
		if hopByHop[canon] || llmDroppedRequest[canon] || connectionListed[canon] {
			continue
		}
		for _, v := range values {
			if p.placeholder != "" {
				v = strings.Replace(v, p.placeholder, p.apiKey, 1)
			}
			out.Add(canon, v)
		}
	}
	return out
}

// relay streams the upstream answer back, flushing every chunk, and meters it.
func (p *llmProxy) relay(w http.ResponseWriter, r *http.Request, resp *http.Response, sniff *modelSniffer) {
	for _, name := range llmResponseHeaders {
		if vs := resp.Header.Values(name); len(vs) > 0 {
			w.Header()[name] = append([]string(nil), vs...)
		}
	}
	w.WriteHeader(resp.StatusCode)
	meter := p.newMeter(resp.Header.Get("Content-Type"))
	var sink io.Writer = w
	if meter != nil {
		sink = io.MultiWriter(w, meter)
	}
	started := time.Now()
	n, copyErr := copyFlushing(sink, resp.Body, http.NewResponseController(w))
	attrs := []any{"status", resp.StatusCode, "bytes", n, "durationMs", time.Since(started).Milliseconds(), "path", r.URL.Path}
	if copyErr != nil {
		p.logger.Warn("llm stream interrupted", append(attrs, "error", copyErr.Error())...)
	} else {
		p.logger.Debug("llm stream relayed", attrs...)
	}
	if resp.StatusCode/100 != 2 {
		p.logger.Warn("llm upstream answered an error", "status", resp.StatusCode, "path", r.URL.Path)
	}
	if meter != nil {
		_ = meter.Close()
		p.reportUsage(meter, sniff.model(r.URL.Path))
	}
}

func (p *llmProxy) newMeter(contentType string) *llm.Meter {
	if p.api == "" || p.usage == nil {
		return nil
	}
	m, err := llm.NewMeter(p.api)
	if err != nil {
		return nil
	}
	m.SetContentType(contentType)
	return m
}

// reportUsage sends what the meter saw; a response that carried no usage (an error, a model list) is not
// reported.
func (p *llmProxy) reportUsage(m *llm.Meter, model string) {
	u := m.Usage()
	if u.IsZero() {
		return
	}
	p.usage.report(UsageReport{RequestID: ids.UUID(), API: p.api, Model: model, Usage: tokensOf(u), Complete: m.Complete()})
}

// copyFlushing copies src to dst, flushing after every chunk so server-sent events reach the agent as they
// arrive. It stops at the first write error (the agent went away) or read error.
func copyFlushing(dst io.Writer, src io.Reader, rc *http.ResponseController) (int64, error) {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, fmt.Errorf("write to agent: %w", werr)
			}
			total += int64(n)
			_ = rc.Flush()
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("read upstream: %w", err)
		}
	}
}

func (p *llmProxy) fetchFailed(w http.ResponseWriter, r *http.Request, target *url.URL, err error) {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "Request body too large",
			"limit": p.maxBody, "envVar": "SIDECAR_MAX_REQUEST_BODY_BYTES"})
		return
	}
	msg := "LLM request failed"
	if code := errorCode(err); code != "" {
		msg += ": " + code
	}
	msg += " (" + target.Host + ")"
	p.logger.Warn("llm request failed", "host", target.Host, "path", r.URL.Path, "error", scrubError(err))
	writeJSON(w, http.StatusBadGateway, map[string]any{"error": msg})
}

// errorCode names a network failure the way the agent's SDKs expect (ECONNREFUSED, ETIMEDOUT, …).
func errorCode(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "ETIMEDOUT"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED"
	case errors.Is(err, syscall.ECONNRESET):
		return "ECONNRESET"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "EHOSTUNREACH"
	case errors.As(err, &dnsErr):
		return "ENOTFOUND"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "ETIMEDOUT"
	}
	return ""
}

// scrubError returns an error message without the URL's query (which may carry a key).
func scrubError(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return uerr.Op + " " + u.String() + ": " + uerr.Err.Error()
		}
	}
	return err.Error()
}
