package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ratelimit"
)

// Guards are per-operation huma middlewares: permission checks, credential restrictions and rate limits.
// Attach them with op.Middlewares = huma.Middlewares{...}.

// writeHumaProblem writes p from inside a huma middleware.
func writeHumaProblem(ctx huma.Context, p *Problem) {
	p.stamp(RequestIDFrom(ctx.Context()))
	for name, values := range p.headers {
		for _, v := range values {
			ctx.AppendHeader(name, v)
		}
	}
	body, _ := json.Marshal(p)
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetStatus(p.Status)
	_, _ = ctx.BodyWriter().Write(body)
}

// Principal returns the caller of a huma operation; operations behind authentication always have one.
func Principal(ctx huma.Context) *auth.Principal {
	p, _ := auth.PrincipalFrom(ctx.Context())
	return p
}

// Require refuses callers without perm: 403 forbidden "Insufficient permissions: <perm> required".
func Require(perm auth.Permission) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		p := Principal(ctx)
		if p == nil || !p.Can(perm) {
			writeHumaProblem(ctx, Forbidden("Insufficient permissions: "+string(perm)+" required"))
			return
		}
		next(ctx)
	}
}

// DenyAPIKey refuses API key callers (routes that need a user: creating orgs and applications, profile...).
func DenyAPIKey(ctx huma.Context, next func(huma.Context)) {
	if p := Principal(ctx); p != nil && p.IsAPIKey() {
		writeHumaProblem(ctx, Forbidden("This operation is not available to API keys"))
		return
	}
	next(ctx)
}

// DenySession refuses cookie sessions and anonymous callers with detail: routes for API keys and OAuth access
// tokens only (the credential and LLM proxies).
func DenySession(api huma.API, detail string) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if p := Principal(ctx); p == nil || p.Method == auth.MethodSession {
			huma.WriteErr(api, ctx, http.StatusForbidden, detail)
			return
		}
		next(ctx)
	}
}

// SessionOnly refuses every caller but a cookie/bearer session.
func SessionOnly(ctx huma.Context, next func(huma.Context)) {
	if p := Principal(ctx); p == nil || p.Method != auth.MethodSession {
		writeHumaProblem(ctx, Forbidden("This operation requires a dashboard session"))
		return
	}
	next(ctx)
}

// RateLimitKey names the budget a request draws from.
type RateLimitKey func(ctx huma.Context) string

// ByCaller keys on `METHOD:path:identity` with identity = apikey:<id> or the user id (falling back to the IP).
func ByCaller(ctx huma.Context) string {
	identity := "ip:" + ClientIPFrom(ctx.Context())
	if p := Principal(ctx); p != nil {
		switch {
		case p.APIKeyID != "":
			identity = "apikey:" + p.APIKeyID
		case p.UserID != "":
			identity = p.UserID
		}
	}
	return ctx.Method() + ":" + ctx.URL().Path + ":" + identity
}

// ByIP keys on `METHOD:path:ip` for public routes.
func ByIP(ctx huma.Context) string {
	return ctx.Method() + ":" + ctx.URL().Path + ":ip:" + ClientIPFrom(ctx.Context())
}

// RateLimit allows n requests per minute per key and sets the RateLimit headers on every response; above
// the limit it answers 429 rate_limited with Retry-After. A limiter error lets the request through.
func RateLimit(l ratelimit.Limiter, n int, key RateLimitKey) func(huma.Context, func(huma.Context)) {
	return RateLimitWindow(l, n, time.Minute, key)
}

// RateLimitWindow is RateLimit with an explicit window.
func RateLimitWindow(l ratelimit.Limiter, n int, window time.Duration, key RateLimitKey) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		res, err := l.Take(ctx.Context(), "rl:"+strconv.Itoa(n)+":"+key(ctx), n, window)
		if err != nil {
			next(ctx)
			return
		}
		state := RateLimitState{Limit: res.Limit, Remaining: res.Remaining, Reset: res.Reset, Window: res.Window}
		if !res.Allowed {
			writeHumaProblem(ctx, RateLimited("", state))
			return
		}
		h := http.Header{}
		SetRateLimitHeaders(h, state)
		for k := range h {
			ctx.SetHeader(k, h.Get(k))
		}
		next(ctx)
	}
}
