package httpapi

import (
	"context"
	"net/http"
	"time"
)

// HealthChecks are the probes behind GET /health.
type HealthChecks struct {
	// Database runs `SELECT 1` (or equivalent); an error makes the server unhealthy (503).
	Database func(ctx context.Context) error
	// AgentsLoaded reports whether system agent packages are loaded; false makes the server degraded (200).
	AgentsLoaded func(ctx context.Context) bool
}

// HealthCheck is one entry of HealthBody.Checks.
type HealthCheck struct {
	Status    string `json:"status" enum:"healthy,degraded,unhealthy"`
	LatencyMs *int64 `json:"latency_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

// HealthBody is the body of GET /health.
type HealthBody struct {
	Status   string                 `json:"status" enum:"healthy,degraded,unhealthy"`
	UptimeMs int64                  `json:"uptime_ms"`
	Checks   map[string]HealthCheck `json:"checks"`
}

type healthOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         HealthBody
}

// RegisterHealth adds GET /health: 200 healthy|degraded, or a 503 problem+json (code service_unavailable)
// carrying health:"unhealthy", uptime_ms and checks when the database does not answer (`status` stays the
// numeric HTTP status there, as RFC 9457 requires).
func (s *Server) RegisterHealth(checks HealthChecks) {
	Register(s.api, operationHealth, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		body := s.health(ctx, checks)
		if body.Status == "unhealthy" {
			p := NewProblem(http.StatusServiceUnavailable, "service_unavailable", "Database unreachable: "+body.Checks["database"].Error)
			p.WithExtension("health", body.Status).WithExtension("uptime_ms", body.UptimeMs).WithExtension("checks", body.Checks)
			return nil, p.WithHeader("Cache-Control", "no-store")
		}
		return &healthOutput{CacheControl: "no-store", Body: body}, nil
	})
}

func (s *Server) health(ctx context.Context, checks HealthChecks) HealthBody {
	body := HealthBody{Status: "healthy", UptimeMs: s.Uptime().Milliseconds(), Checks: map[string]HealthCheck{}}
	if checks.Database != nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		start := time.Now()
		err := checks.Database(ctx)
		latency := time.Since(start).Milliseconds()
		check := HealthCheck{Status: "healthy", LatencyMs: &latency}
		if err != nil {
			check = HealthCheck{Status: "unhealthy", LatencyMs: &latency, Error: err.Error()}
			body.Status = "unhealthy"
		}
		body.Checks["database"] = check
	}
	if checks.AgentsLoaded != nil {
		check := HealthCheck{Status: "healthy"}
		if !checks.AgentsLoaded(ctx) {
			check.Status = "degraded"
			if body.Status == "healthy" {
				body.Status = "degraded"
			}
		}
		body.Checks["agents"] = check
	}
	return body
}
