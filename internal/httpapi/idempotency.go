package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/idempotency"
)

// Idempotency-Key handling (API.md §3.6) for the routes that create: run agent, inline and remote runs,
// end-users, webhooks, OAuth clients.
//
// Keys are scoped by IdempotencyScope: the organization (as upstream's `idem:<orgId>:<key>`), and also the
// application, the impersonated end-user, the method and the request path. Upstream scopes by organization
// only, so the same key sent to two routes (or for two applications of the org) would replay one
// response to the other; here those are independent keys. The query string is not part of the scope, and
// only the request body is hashed.

// Header names of API.md §3.6.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// replayedHeaders are the response headers stored and replayed; the others (Set-Cookie, rate limits,
// Request-Id...) belong to each request.
var replayedHeaders = []string{"Content-Type", "Location", "Link"}

func isReplayedHeader(name string) bool {
	return slices.Contains(replayedHeaders, http.CanonicalHeaderKey(name))
}

// WithIdempotency makes op honour Idempotency-Key: it documents the header and the 409/422 answers, and
// appends Idempotent as the last middleware (after the guards, so a refused or rate-limited request does
// not take the key). A nil store leaves op unchanged.
func WithIdempotency(op huma.Operation, store idempotency.Store, logger *slog.Logger) huma.Operation {
	if store == nil {
		return op
	}
	op.Parameters = append(slices.Clone(op.Parameters), &huma.Param{
		Name: HeaderIdempotencyKey, In: "header",
		Description: "Makes the request safe to retry for 24 h: a retry with the same key and body replays the " +
			"first response (with Idempotent-Replayed: true); a different body gets 422 idempotency_conflict, a " +
			"retry while the first is running 409 idempotency_in_progress. At most 255 characters.",
		Schema: &huma.Schema{Type: "string", MinLength: ptr(1), MaxLength: ptr(idempotency.MaxKeyLength)},
	})
	for _, status := range []int{http.StatusConflict, http.StatusUnprocessableEntity} {
		if !slices.Contains(op.Errors, status) {
			op.Errors = append(slices.Clone(op.Errors), status)
		}
	}
	op.Middlewares = append(slices.Clone(op.Middlewares), Idempotent(store, logger))
	return op
}

func ptr[T any](v T) *T { return &v }

// IdempotencyScope is the scope of the keys of a request: organization, application and end-user of the
// caller ("-" when absent), method and path.
func IdempotencyScope(p *auth.Principal, method, path string) string {
	org, app, endUser := "-", "-", "-"
	if p != nil {
		org, app, endUser = orDash(p.OrgID), orDash(p.ApplicationID), orDash(p.EndUserID)
	}
	return org + "/" + app + "/" + endUser + " " + method + " " + path
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Idempotent is the huma middleware of Idempotency-Key. Without the header the request runs as usual. An
// invalid key gets 400 invalid_idempotency_key. Otherwise the raw body is read and hashed, the key is
// claimed, and:
//   - first use: the handler runs and its response (status, Content-Type/Location/Link, body, error bodies
//     included) is stored; 5xx and 429 answers (a retry after Retry-After must run), panics and bodies
//     above 1 MiB release the key instead;
//   - same key and body, completed: the stored response is replayed with Idempotent-Replayed: true;
//   - same key, another body: 422 idempotency_conflict;
//   - same key still running: 409 idempotency_in_progress.
//
// A store failure answers 500 (and the request does not run), so a retry cannot act twice. A nil store
// disables the middleware; a nil logger means slog.Default().
func Idempotent(store idempotency.Store, logger *slog.Logger) func(huma.Context, func(huma.Context)) {
	if store == nil {
		return func(ctx huma.Context, next func(huma.Context)) { next(ctx) }
	}
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx huma.Context, next func(huma.Context)) {
		key := ctx.Header(HeaderIdempotencyKey)
		if key == "" {
			next(ctx)
			return
		}
		if err := idempotency.ValidateKey(key); err != nil {
			reason := strings.TrimPrefix(err.Error(), idempotency.ErrInvalidKey.Error()+": ")
			writeHumaProblem(ctx, BadRequest("invalid_idempotency_key",
				"Invalid Idempotency-Key header: "+reason).WithParam(HeaderIdempotencyKey))
			return
		}
		body, err := readRequestBody(ctx)
		if err != nil {
			// Let huma answer as it would have (413 past the body limit, 408 on timeout...).
			next(&idempotentContext{humaContext: ctx, body: io.MultiReader(bytes.NewReader(body), errorReader{err})})
			return
		}
		scope := IdempotencyScope(Principal(ctx), ctx.Method(), ctx.URL().Path)
		out, err := store.Begin(ctx.Context(), scope, key, idempotency.HashBody(body), idempotency.TTL)
		if err != nil {
			logger.Error("idempotency: key not claimed", "requestId", RequestIDFrom(ctx.Context()), "error", err)
			writeHumaProblem(ctx, Internal())
			return
		}
		switch out.State {
		case idempotency.StateNew:
			runIdempotent(ctx, next, store, logger, scope, key, out.Token, body)
		case idempotency.StateReplay:
			replayStored(ctx, out.Stored)
		case idempotency.StateConflict:
			writeHumaProblem(ctx, NewProblem(http.StatusUnprocessableEntity, "idempotency_conflict",
				"This Idempotency-Key was already used with a different request body"))
		default:
			writeHumaProblem(ctx, Conflict("idempotency_in_progress",
				"A request with this Idempotency-Key is still being processed; retry later"))
		}
	}
}

// readRequestBody reads the whole request body, within the operation's body read timeout as huma would.
func readRequestBody(ctx huma.Context) ([]byte, error) {
	r := ctx.BodyReader()
	if r == nil {
		return nil, nil
	}
	if op := ctx.Operation(); op != nil && op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
	}
	return io.ReadAll(r)
}

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }

// runIdempotent calls the handler holding the key, then stores its response or releases the key.
func runIdempotent(ctx huma.Context, next func(huma.Context), store idempotency.Store, logger *slog.Logger,
	scope, key, token string, body []byte) {
	bg := context.WithoutCancel(ctx.Context()) // the outcome is recorded even if the client went away
	release := func(reason string) {
		if err := store.Release(bg, scope, key, token); err != nil {
			logger.Warn("idempotency: key not released", "requestId", RequestIDFrom(bg), "reason", reason, "error", err)
		}
	}
	settled := false
	defer func() {
		if !settled { // the handler panicked: let the client retry
			release("panic")
		}
	}()
	c := &idempotentContext{humaContext: ctx, body: bytes.NewReader(body), header: http.Header{}, capture: true}
	next(c)
	settled = true
	switch {
	case c.status == 0:
		release("no response written through huma")
	case c.status >= 500:
		release("server error")
	case c.status == http.StatusTooManyRequests: // a retry after Retry-After must be tried, not replayed for 24 h
		release("rate limited")
	case c.overflow:
		logger.Debug("idempotency: response not stored, key released", "requestId", RequestIDFrom(bg),
			"reason", "body larger than 1 MiB", "status", c.status)
		release("response too large")
	default:
		err := store.Complete(bg, scope, key, token, idempotency.Response{Status: c.status, Header: c.header, Body: c.buf.Bytes()})
		switch {
		case errors.Is(err, idempotency.ErrNotHeld):
			logger.Warn("idempotency: key lost before the response was stored", "requestId", RequestIDFrom(bg))
		case err != nil:
			logger.Error("idempotency: response not stored", "requestId", RequestIDFrom(bg), "error", err)
			release("store failure")
		}
	}
}

// replayStored sends a stored response again.
func replayStored(ctx huma.Context, stored *idempotency.Response) {
	for name, values := range stored.Header {
		if !isReplayedHeader(name) {
			continue
		}
		for i, v := range values {
			if i == 0 {
				ctx.SetHeader(name, v)
			} else {
				ctx.AppendHeader(name, v)
			}
		}
	}
	ctx.SetHeader(HeaderReplayed, "true")
	ctx.SetStatus(stored.Status)
	if len(stored.Body) > 0 {
		_, _ = ctx.BodyWriter().Write(stored.Body)
	}
}

// idempotentContext gives the handler the buffered request body and, when capture is set, records the
// response it writes through huma (status, replayable headers, body up to MaxResponseBytes) while passing
// everything on.
type idempotentContext struct {
	humaContext
	body     io.Reader
	capture  bool
	status   int
	header   http.Header
	buf      bytes.Buffer
	overflow bool
}

// Unwrap lets humago.Unwrap reach the request; a response written to the raw writer is not recorded, and
// the key is then released.
func (c *idempotentContext) Unwrap() huma.Context { return c.humaContext }

func (c *idempotentContext) BodyReader() io.Reader { return c.body }

func (c *idempotentContext) SetStatus(code int) {
	if c.capture {
		c.status = code
	}
	c.humaContext.SetStatus(code)
}

func (c *idempotentContext) SetHeader(name, value string) {
	if c.capture && isReplayedHeader(name) {
		c.header.Set(name, value)
	}
	c.humaContext.SetHeader(name, value)
}

func (c *idempotentContext) AppendHeader(name, value string) {
	if c.capture && isReplayedHeader(name) {
		c.header.Add(name, value)
	}
	c.humaContext.AppendHeader(name, value)
}

func (c *idempotentContext) BodyWriter() io.Writer {
	if !c.capture {
		return c.humaContext.BodyWriter()
	}
	return captureWriter{c}
}

// humaContext lets idempotentContext embed huma.Context under a name that does not clash with its Context
// method.
type humaContext = huma.Context

type captureWriter struct{ c *idempotentContext }

func (w captureWriter) Write(p []byte) (int, error) {
	c := w.c
	if !c.overflow {
		if c.buf.Len()+len(p) > idempotency.MaxResponseBytes {
			c.overflow = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(p)
		}
	}
	return c.humaContext.BodyWriter().Write(p)
}
