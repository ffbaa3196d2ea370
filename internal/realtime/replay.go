package realtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// maxReplay bounds the log rows one replay sends.
const maxReplay = 5000

// LogsSince returns the run_log events of run runID (of org/app) with an id above since, oldest first, in the
// shape of the live notifications: a client reconnecting with ?since= replays what it missed.
func LogsSince(ctx context.Context, db *store.DB, orgID, appID, runID string, since int64) ([]Event, error) {
	rows, err := db.QueryContext(ctx, `SELECT l.id, l.type, l.level, l.event, l.message, l.data, l.created_at, r.package_id
		FROM run_logs l JOIN runs r ON r.id = l.run_id
		WHERE l.run_id = ? AND r.org_id = ? AND r.application_id = ? AND l.id > ? ORDER BY l.id LIMIT ?`,
		runID, orgID, appID, since, maxReplay)
	if err != nil {
		return nil, fmt.Errorf("replay logs of %s: %w", runID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			id               int64
			typ, level       string
			event, msg, data *string
			created          isotime.Time
			pkg              *string
		)
		if err := rows.Scan(&id, &typ, &level, &event, &msg, &data, &created, &pkg); err != nil {
			return nil, fmt.Errorf("scan log of %s: %w", runID, err)
		}
		m := map[string]any{"id": id, "runId": runID, "orgId": orgID, "applicationId": appID, "packageId": pkg,
			"type": typ, "level": level, "event": event, "message": truncate(msg, 2000), "createdAt": created.String()}
		if data != nil {
			if len(*data) > 6000 {
				m["data"] = "[payload too large]"
			} else {
				var v any
				if json.Unmarshal([]byte(*data), &v) == nil {
					m["data"] = v
				}
			}
		}
		out = append(out, Event{Name: "run_log", Payload: m})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay logs of %s: %w", runID, err)
	}
	return out, nil
}

func truncate(s *string, n int) any {
	if s == nil {
		return nil
	}
	r := []rune(*s)
	if len(r) > n {
		return string(r[:n])
	}
	return *s
}

// LogID is the id of a run_log event (0 for other events).
func (e Event) LogID() int64 {
	if e.Name != "run_log" {
		return 0
	}
	switch v := e.Payload["id"].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}
