package llm

import (
	"context"
	"errors"
	"time"
)

// RetryPolicy says how Retry waits between attempts. The zero value makes 3 attempts with delays of 1 s then
// 2 s (exponential, capped at 30 s), and honours the provider's Retry-After up to 60 s.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, first included (default 3)
	BaseDelay   time.Duration // delay before the second attempt when the provider gave none (default 1 s)
	MaxDelay    time.Duration // cap of the exponential delay (default 30 s)
	// MaxRetryAfter is the longest Retry-After honoured; a provider asking for more ends the retries with its
	// error (default 60 s).
	MaxRetryAfter time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = time.Minute
	}
	return p
}

// RetryDelay reports whether err deserves another attempt after attempt number attempt (0 for the first) and how
// long to wait first. Only provider errors that are rate limits or overload (429, 503, 529 and their stream-event
// equivalents) are retried; a Retry-After longer than MaxRetryAfter is not waited for.
func (p RetryPolicy) RetryDelay(err error, attempt int) (time.Duration, bool) {
	p = p.withDefaults()
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Retryable() || attempt+1 >= p.MaxAttempts {
		return 0, false
	}
	if apiErr.RetryAfter > 0 {
		if apiErr.RetryAfter > p.MaxRetryAfter {
			return 0, false
		}
		return apiErr.RetryAfter, true
	}
	d := p.BaseDelay
	for i := 0; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay), true
}

// Retry calls fn until it succeeds, fails with an error RetryDelay rejects, or ctx ends. It returns fn's last
// result. A stream callback that has already delivered events should not be retried this way blindly: the caller
// decides what a repeated stream means for it.
func Retry[T any](ctx context.Context, p RetryPolicy, fn func(context.Context) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := fn(ctx)
		if err == nil {
			return v, nil
		}
		d, ok := p.RetryDelay(err, attempt)
		if !ok {
			return v, err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}
