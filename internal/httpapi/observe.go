package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// statusRecorder remembers the status written by the rest of the chain.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer so streaming responses keep working.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe recovers panics into 500 internal_error, records metrics by route pattern, and logs each request
// at debug level (errors at warn/error).
func observe(logger *slog.Logger, metrics *Metrics, routeOf func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.Error("panic serving request", "requestId", RequestIDFrom(r.Context()),
						"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					if rec.status == 0 {
						WriteProblem(rec, r, Internal())
					}
				}
				route := routeOf(r)
				status := rec.status
				if status == 0 {
					status = http.StatusOK
				}
				elapsed := time.Since(start)
				metrics.ObserveRequest(r.Method, route, status, elapsed)
				level := slog.LevelDebug
				switch {
				case status == http.StatusServiceUnavailable:
					level = slog.LevelWarn
				case status >= 500:
					level = slog.LevelError
				}
				logger.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path,
					"route", route, "status", status, "durationMs", elapsed.Milliseconds(),
					"requestId", RequestIDFrom(r.Context()), "ip", ClientIPFrom(r.Context()))
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
