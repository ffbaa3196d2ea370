package webhooks

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Delivery is one recorded attempt.
type Delivery struct {
	ID         string
	WebhookID  string
	EventID    string
	EventType  string
	Status     string // StatusPending | StatusSuccess | StatusFailed
	StatusCode *int   // nil without an HTTP response
	Latency    *int64 // ms; nil when no request was made
	Attempt    int
	Error      *string
	CreatedAt  isotime.Time
}

// Deliveries returns the latest attempts of webhook id, newest first, at most limit (1..100), and whether
// older ones exist.
func (s *Service) Deliveries(ctx context.Context, sc Scope, id string, limit int) ([]Delivery, bool, error) {
	if limit < 1 || limit > 100 {
		limit = DefaultDeliveryLimit
	}
	w, err := s.Get(ctx, sc, id)
	if err != nil {
		return nil, false, err
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT id, webhook_id, event_id, event_type, status, status_code, latency, attempt, error, created_at
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, attempt DESC, id DESC LIMIT ?`, w.ID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		var code, latency sql.NullInt64
		var msg sql.NullString
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Status, &code, &latency, &d.Attempt, &msg,
			&d.CreatedAt); err != nil {
			return nil, false, fmt.Errorf("list deliveries: %w", err)
		}
		if code.Valid {
			c := int(code.Int64)
			d.StatusCode = &c
		}
		if latency.Valid {
			d.Latency = &latency.Int64
		}
		if msg.Valid {
			d.Error = &msg.String
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list deliveries: %w", err)
	}
	hasMore := len(out) > limit
	if hasMore {
		out = out[:limit]
	}
	return out, hasMore, nil
}
