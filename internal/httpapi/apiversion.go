package httpapi

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/auth"
)

// CurrentAPIVersion is the API version this server speaks and the default for requests that name none.
const CurrentAPIVersion = "2026-03-21"

// SupportedAPIVersions lists every value accepted in the Appstrate-Version header.
var SupportedAPIVersions = []string{CurrentAPIVersion}

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

type apiVersionKey struct{}

// APIVersionFrom returns the API version resolved for the request.
func APIVersionFrom(ctx context.Context) string {
	if v, ok := ctx.Value(apiVersionKey{}).(string); ok {
		return v
	}
	return CurrentAPIVersion
}

// ParseAPIVersion validates an Appstrate-Version header value.
func ParseAPIVersion(v string) (string, *Problem) {
	v = strings.TrimSpace(v)
	if !apiVersionPattern.MatchString(v) {
		return "", BadRequest("invalid_api_version",
			"Invalid Appstrate-Version header: expected a date in YYYY-MM-DD format").WithParam("Appstrate-Version")
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", BadRequest("invalid_api_version",
			"Invalid Appstrate-Version header: "+v+" is not a calendar date").WithParam("Appstrate-Version")
	}
	if !slices.Contains(SupportedAPIVersions, v) {
		return "", BadRequest("unsupported_api_version",
			"Unsupported API version "+v+"; supported: "+strings.Join(SupportedAPIVersions, ", ")).WithParam("Appstrate-Version")
	}
	return v, nil
}

// OrgAPIVersion looks up an organization's pinned API version (org setting apiVersion); "" when none.
type OrgAPIVersion func(ctx context.Context, orgID string) string

// apiVersion resolves the version of authenticated requests (header, else the org setting, else the current
// version) and echoes it on successful responses only.
func apiVersion(orgVersion OrgAPIVersion) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.PrincipalFrom(r.Context())
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			version := CurrentAPIVersion
			if h := r.Header.Get("Appstrate-Version"); h != "" {
				v, problem := ParseAPIVersion(h)
				if problem != nil {
					WriteProblem(w, r, problem)
					return
				}
				version = v
			} else if orgVersion != nil && p.OrgID != "" {
				if v := orgVersion(r.Context(), p.OrgID); v != "" {
					version = v
				}
			}
			ctx := context.WithValue(r.Context(), apiVersionKey{}, version)
			next.ServeHTTP(&versionEchoWriter{ResponseWriter: w, version: version}, r.WithContext(ctx))
		})
	}
}

// versionEchoWriter sets Appstrate-Version just before a success status is written.
type versionEchoWriter struct {
	http.ResponseWriter
	version string
	wrote   bool
}

func (w *versionEchoWriter) WriteHeader(status int) {
	if !w.wrote && status < 400 {
		w.Header().Set("Appstrate-Version", w.version)
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *versionEchoWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer so streaming responses keep working.
func (w *versionEchoWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach Flush and deadlines (SSE).
func (w *versionEchoWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
