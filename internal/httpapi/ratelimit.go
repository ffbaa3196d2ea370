package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
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
	p := NewProblem(http.StatusTooManyRequests, code, "Too many requests, retry in "+strconv.Itoa(retry)+"s").WithRetryAfter(retry)
	h := http.Header{}
	SetRateLimitHeaders(h, s)
	for k, v := range h {
		p.WithHeader(k, v[0])
	}
	return p
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
