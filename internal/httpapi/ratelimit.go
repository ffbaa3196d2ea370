package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// RateLimitState is the outcome of one rate-limit check, as rendered in headers (API.md §3.5).
type RateLimitState struct {
	Limit     int           // requests allowed per window
	Remaining int           // requests left in the current window
	Reset     time.Duration // time until the window resets
	Window    time.Duration // window length (60 s for rateLimit(N))
}

// SetRateLimitHeaders writes `RateLimit: limit=N, remaining=M, reset=S` and `RateLimit-Policy: N;w=W`.
func SetRateLimitHeaders(h http.Header, s RateLimitState) {
	h.Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%d", s.Limit, max(s.Remaining, 0), ceilSeconds(s.Reset)))
	h.Set("RateLimit-Policy", fmt.Sprintf("%d;w=%d", s.Limit, ceilSeconds(s.Window)))
}

// RateLimited builds the 429 problem for an exhausted limit: code rate_limited (or a more specific one),
// Retry-After header and retryAfter member, and the RateLimit headers.
func RateLimited(code string, s RateLimitState) *Problem {
	if code == "" {
		code = "rate_limited"
	}
	retry := max(ceilSeconds(s.Reset), 1)
	return NewProblem(http.StatusTooManyRequests, code, "Too many requests, retry in "+strconv.Itoa(retry)+"s").WithRateLimit(s)
}

// WithRateLimit adds the RateLimit and RateLimit-Policy headers of s to the problem, and Retry-After (header
// and retryAfter member) when the budget is spent.
func (p *Problem) WithRateLimit(s RateLimitState) *Problem {
	h := http.Header{}
	SetRateLimitHeaders(h, s)
	for k, v := range h {
		p.WithHeader(k, v[0])
	}
	if s.Remaining <= 0 {
		p.WithRetryAfter(max(ceilSeconds(s.Reset), 1))
	}
	return p
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// lastRateLimitWins makes a RateLimit, RateLimit-Policy or Retry-After header of an error replace the one a
// route's limiter set before the handler ran: a refusal by a narrower budget (e.g. the organization's run
// rate, API.md §3.5) describes that budget, never both.
func lastRateLimitWins(ctx huma.Context, next func(huma.Context)) {
	next(rateLimitHeaderContext{ctx})
}

type rateLimitHeaderContext struct{ humaContext }

// Unwrap lets humago.Unwrap reach the request and the writer.
func (c rateLimitHeaderContext) Unwrap() huma.Context { return c.humaContext }

func (c rateLimitHeaderContext) AppendHeader(name, value string) {
	switch http.CanonicalHeaderKey(name) {
	case "Ratelimit", "Ratelimit-Policy", "Retry-After":
		c.SetHeader(name, value)
	default:
		c.humaContext.AppendHeader(name, value)
	}
}
