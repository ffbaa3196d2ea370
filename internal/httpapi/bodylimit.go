package httpapi

import (
	"fmt"
	"net/http"
)

// bodyLimit refuses request bodies above limit with 413 payload_too_large: at once when Content-Length says
// so, otherwise when the handler reads past the limit (huma errors carrying *http.MaxBytesError are mapped to
// 413 in the error hook). Direct uploads (PUT /api/uploads/_content) have their own limit.
func bodyLimit(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if limit <= 0 || (r.Method == http.MethodPut && r.URL.Path == "/api/uploads/_content") {
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > limit {
				WriteProblem(w, r, payloadTooLarge(limit))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func payloadTooLarge(limit int64) *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
		fmt.Sprintf("Request body exceeds the limit of %d bytes", limit))
}
