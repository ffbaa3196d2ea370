package httpapi

import (
	"net/http"
	"sync/atomic"
)

// ShutdownGate turns away new POSTs with 503 shutting_down once the process is stopping, while requests
// already in flight drain.
type ShutdownGate struct{ closing atomic.Bool }

// Close starts refusing POSTs.
func (g *ShutdownGate) Close() { g.closing.Store(true) }

// Closing reports whether Close was called.
func (g *ShutdownGate) Closing() bool { return g.closing.Load() }

func (g *ShutdownGate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && g.Closing() {
			p := NewProblem(http.StatusServiceUnavailable, "shutting_down", "Server is shutting down").WithRetryAfter(5)
			w.Header().Set("Connection", "close")
			WriteProblem(w, r, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}
