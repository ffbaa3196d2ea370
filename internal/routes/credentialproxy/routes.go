package credentialproxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/httpapi"
	prov "github.com/appstrate/appstrate-go/internal/providers"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
	provroutes "github.com/appstrate/appstrate-go/internal/routes/providers"
)

// Path is the proxy's route.
const Path = "/api/credential-proxy/proxy"

var tags = []string{"Credential Proxy"}

// Deps are what the proxy route needs.
type Deps struct {
	Proxy      *prov.CredentialProxy
	Limiter    ratelimit.Limiter
	RatePerMin int // CREDENTIAL_PROXY_LIMITS.rate_per_min (100 when ≤ 0)
	Logger     *slog.Logger
}

type handlers struct{ Deps }

// Register adds ALL /api/credential-proxy/proxy (one operation per method).
func Register(api huma.API, d Deps) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.RatePerMin <= 0 {
		d.RatePerMin = 100
	}
	h := handlers{d}
	noCookies := httpapi.DenySession(api, "The credential proxy accepts API keys and OAuth access tokens only (cookie sessions are refused)")
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		httpapi.Register(api, huma.Operation{
			OperationID: "credentialProxy" + method[:1] + strings.ToLower(method[1:]), Method: method, Path: Path, Tags: tags,
			Security: []map[string][]string{{httpapi.SecurityAPIKey: {}}, {httpapi.SecurityJWT: {}}},
			Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
				http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout},
			Summary: "Call a provider API with your connection's credentials (" + method + ")",
			Description: "Forwards the request (method, headers, body) to X-Target with the credentials of your connection to " +
				"X-Provider injected (header, query parameters or {{field}} placeholders in the target, headers and — with " +
				"X-Substitute-Body: true — the body). The connection is the actor's on X-Connection-Profile-Id, else the " +
				"end-user's default, the member's pinned profile, the application's default profile or the member's Default. " +
				"The target and every redirect must match the provider's authorizedUris (403) and resolve to public " +
				"addresses (403); credentials are dropped on cross-origin redirects. A 401 from the provider refreshes an " +
				"OAuth 2 token once and replays the request (X-Auth-Refreshed: true; with x-stream-request the 401 is " +
				"returned with X-Auth-Refreshed: true for the caller to replay). The provider's status, headers (minus " +
				"cookies and hop-by-hop headers) and body are relayed, the body capped at 10 MiB (100 MiB with " +
				"x-stream-response: true) with X-Truncated: true, and any echo of a credential is replaced by [REDACTED]. " +
				"API keys and OAuth access tokens only (cookie sessions: 403). Requires credential-proxy:call; rate limit " +
				"CREDENTIAL_PROXY_LIMITS.rate_per_min per caller.",
			Middlewares: huma.Middlewares{noCookies, httpapi.Require("credential-proxy:call"),
				httpapi.RateLimit(d.Limiter, d.RatePerMin, httpapi.ByCaller)},
			Responses: map[string]*huma.Response{
				"200": {Description: "The provider's answer (any status, headers and body are the provider's)",
					Content: map[string]*huma.MediaType{"*/*": {}}},
			},
		}, h.proxy)
	}
}

type proxyInput struct {
	Provider       string `header:"X-Provider" required:"true" doc:"Provider id (@scope/name)"`
	Target         string `header:"X-Target" required:"true" doc:"Target URL; {{field}} placeholders take the connection's fields"`
	ProfileID      string `header:"X-Connection-Profile-Id" doc:"Connection profile to use"`
	SessionID      string `header:"X-Session-Id" doc:"Caller session id (accepted, unused)"`
	SubstituteBody string `header:"X-Substitute-Body" doc:"true: substitute placeholders in the body too"`
	RunID          string `header:"X-Run-Id" doc:"Run the call belongs to (recorded with the usage)"`
	StreamRequest  string `header:"X-Stream-Request" doc:"true: forward the body as it arrives"`
	StreamResponse string `header:"X-Stream-Response" doc:"true: relay the answer as it arrives"`

	method string
	header http.Header
	body   io.Reader
}

// Resolve keeps what huma does not bind: the method, every header and the raw body stream.
func (in *proxyInput) Resolve(ctx huma.Context) []error {
	in.method = ctx.Method()
	in.header = http.Header{}
	ctx.EachHeader(func(name, value string) { in.header.Add(name, value) })
	in.body = ctx.BodyReader()
	return nil
}

func truthy(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

func (h handlers) proxy(ctx context.Context, in *proxyInput) (*huma.StreamResponse, error) {
	req := prov.ProxyRequest{Actor: provroutes.Actor(ctx), Method: in.method, ProviderID: strings.TrimSpace(in.Provider),
		Target: strings.TrimSpace(in.Target), ProfileID: strings.TrimSpace(in.ProfileID), RunID: strings.TrimSpace(in.RunID),
		SubstituteBody: truthy(in.SubstituteBody), StreamRequest: truthy(in.StreamRequest),
		StreamResponse: truthy(in.StreamResponse), Header: in.header}
	if in.body != nil && in.method != http.MethodGet {
		req.Body = in.body
	}
	res, err := h.Proxy.Do(ctx, req)
	if err != nil {
		return nil, provroutes.Problem(ctx, h.Logger, err)
	}
	if req.StreamResponse {
		return &huma.StreamResponse{Body: func(hctx huma.Context) { h.stream(hctx, res) }}, nil
	}
	body, readErr := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if readErr != nil {
		h.Logger.WarnContext(ctx, "credential proxy: reading the provider's answer failed", "providerId", req.ProviderID, "error", readErr)
		return nil, httpapi.NewProblem(http.StatusBadGateway, "network_error", "Reading the provider's answer failed")
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		writeHeader(hctx, res)
		if res.Body.Truncated() {
			hctx.SetHeader("X-Truncated", "true")
		}
		hctx.SetHeader("Content-Length", strconv.Itoa(len(body)))
		hctx.SetStatus(res.Status)
		_, _ = hctx.BodyWriter().Write(body)
	}}, nil
}

func writeHeader(hctx huma.Context, res *prov.ProxyResponse) {
	for name, values := range res.Header {
		for i, v := range values {
			if i == 0 {
				hctx.SetHeader(name, v)
			} else {
				hctx.AppendHeader(name, v)
			}
		}
	}
	if res.Refreshed {
		hctx.SetHeader("X-Auth-Refreshed", "true")
	}
}

// stream relays the answer as it arrives, flushing each chunk; truncation is announced in a trailer.
func (h handlers) stream(hctx huma.Context, res *prov.ProxyResponse) {
	defer res.Body.Close()
	writeHeader(hctx, res)
	hctx.SetHeader("Trailer", "X-Truncated")
	hctx.SetStatus(res.Status)
	w := hctx.BodyWriter()
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	if res.Body.Truncated() {
		hctx.SetHeader("X-Truncated", "true")
	}
}
