// Package audit writes the durable audit trail (audit_events): who did what to which resource, with the
// before/after documents, client IP, user agent and request id. Write-only; failures never fail the caller.
package audit

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Actor types of audit_events.actor_type.
const (
	ActorUser    = "user"
	ActorAPIKey  = "api_key"
	ActorSystem  = "system"
	ActorEndUser = "end_user"
)

// Event is one audit record.
type Event struct {
	OrgID         string
	ApplicationID string
	ActorType     string
	ActorID       string
	Action        string // e.g. "org.created", "api_key.revoked"
	ResourceType  string
	ResourceID    string
	Before, After any // JSON-encoded when non-nil
	IP, UserAgent string
	RequestID     string
}

// Record inserts e through q (inside the caller's transaction when q is a *store.Tx). Errors are logged and
// swallowed: the audit trail is best-effort, as upstream.
func Record(ctx context.Context, q store.Querier, e Event) {
	before, after := encode(e.Before), encode(e.After)
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events (org_id, application_id, actor_type, actor_id, action,
		resource_type, resource_id, before, after, ip, user_agent, request_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		null(e.OrgID), null(e.ApplicationID), e.ActorType, null(e.ActorID), e.Action, null(e.ResourceType),
		null(e.ResourceID), before, after, null(e.IP), null(e.UserAgent), null(e.RequestID), isotime.Now())
	if err != nil {
		slog.WarnContext(ctx, "audit event not recorded", "action", e.Action, "error", err)
	}
}

func encode(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return string(b)
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}
