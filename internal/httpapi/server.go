package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// Options configure the HTTP layer. Zero values are usable: no trusted origins, socket client IPs, 10 MiB bodies.
type Options struct {
	AppURL         string
	TrustedOrigins []string
	TrustProxyHops int
	BodyLimitBytes int64
	Version        string // server version shown in the OpenAPI info
	Logger         *slog.Logger
	Strategies     []Strategy      // authentication strategies, tried in order
	Tenancy        TenancyResolver // org/app/end-user resolution; nil = none (foundation tests)
	OrgAPIVersion  OrgAPIVersion   // org-level API version lookup; nil = none
	Metrics        *Metrics        // nil = fresh metrics
}

// Server is the HTTP transport: a huma API on a ServeMux behind the request pipeline of API.md §1.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	api     huma.API
	gate    ShutdownGate
	metrics *Metrics
	handler http.Handler
	started time.Time
}

func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return problemFromHuma(nil, status, msg, errs...)
	}
	huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		for _, err := range errs {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return payloadTooLarge(tooLarge.Limit)
			}
		}
		return problemFromHuma(ctx, status, msg, errs...)
	}
}

// New builds the server: the pipeline, the huma API (OpenAPI at /api/openapi.json, viewer at /api/docs) and
// the routes every deployment has (/health, /llms.txt, /metrics, the /api 404 fallback).
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BodyLimitBytes == 0 {
		opts.BodyLimitBytes = 10 << 20
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), metrics: opts.Metrics, started: time.Now()}
	s.api = humago.New(s.mux, humaConfig(opts))
	s.api.UseMiddleware(lastRateLimitWins)
	s.mux.Handle("/api/", http.HandlerFunc(apiNotFound))
	s.mux.Handle("GET /metrics", s.metrics.Handler())
	s.mux.Handle("GET /llms.txt", http.HandlerFunc(s.serveLLMsTxt))
	s.mux.Handle("GET /{$}", http.HandlerFunc(serveRoot))
	s.handler = s.pipeline()
	return s
}

// API is the huma API routes register on.
func (s *Server) API() huma.API { return s.api }

// Mux is the underlying ServeMux, for handlers that are not API operations (HTML pages, streams).
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Handler is the full pipeline, ready for http.Server.
func (s *Server) Handler() http.Handler { return s.handler }

// Metrics returns the collectors of this server.
func (s *Server) Metrics() *Metrics { return s.metrics }

// BeginShutdown makes every new POST answer 503 shutting_down while in-flight requests finish.
func (s *Server) BeginShutdown() { s.gate.Close() }

// Uptime is the time since the server was built.
func (s *Server) Uptime() time.Duration { return time.Since(s.started) }

// pipeline chains the middlewares in the order of API.md §1 (outermost first).
func (s *Server) pipeline() http.Handler {
	chain := []func(http.Handler) http.Handler{
		requestID,
		observe(s.opts.Logger, s.metrics, s.routeOf),
		clientIPMiddleware(s.opts.TrustProxyHops),
		cors(s.opts.TrustedOrigins),
		bodyLimit(s.opts.BodyLimitBytes),
		s.gate.middleware,
		authenticate(s.opts.Strategies),
		tenancy(s.opts.Tenancy),
		apiVersion(s.opts.OrgAPIVersion),
	}
	var h http.Handler = openAPIETag(s.mux)
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return h
}

// routeOf names the route pattern that serves r, for metric labels of bounded cardinality.
func (s *Server) routeOf(r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		return "unmatched"
	}
	return pattern
}

// apiNotFound answers unknown /api/* routes (after authentication, as upstream).
func apiNotFound(w http.ResponseWriter, r *http.Request) {
	WriteProblem(w, r, NotFound("API endpoint not found: "+r.Method+" "+r.URL.Path))
}

func serveRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><html><head><meta charset="utf-8"><title>Appstrate</title></head>` +
		`<body><h1>Appstrate</h1><p>The platform is running. API reference: <a href="/api/docs">/api/docs</a>, ` +
		`<a href="/api/openapi.json">/api/openapi.json</a>, <a href="/llms.txt">/llms.txt</a>.</p></body></html>`))
}

// Register adds an operation with the defaults of this API: the body limit is enforced by the pipeline, so
// huma's own limit is lifted; the body read deadline allows slow clients on large payloads.
func Register[I, O any](api huma.API, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	op.MaxBodyBytes = -1
	if op.BodyReadTimeout == 0 {
		op.BodyReadTimeout = 60 * time.Second
	}
	huma.Register(api, op, handler)
}
