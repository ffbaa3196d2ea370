package httpapi

import (
	"context"
	"net/http"

	"github.com/appstrate/appstrate-go/internal/ids"
)

type requestIDKey struct{}

// RequestIDFrom returns the request id (req_<uuid>) of the request being served, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id; used by tests and background work that continues a request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestID gives every response a fresh `Request-Id: req_<uuid>` and echoes a valid W3C traceparent.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ids.New(ids.Request)
		w.Header().Set("Request-Id", id)
		if tp := r.Header.Get("traceparent"); tp != "" {
			if _, ok := ParseTraceparent(tp); ok {
				w.Header().Set("traceparent", tp)
			}
		}
		next.ServeHTTP(w, r.WithContext(WithRequestID(r.Context(), id)))
	})
}
