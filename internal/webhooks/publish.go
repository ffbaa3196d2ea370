package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Event is something that happened to a run, published to the webhooks that subscribe to it.
type Event struct {
	OrgID     string
	AppID     string // the run's application: org-level webhooks fire for every application, app-level ones for theirs
	PackageID string // the run's agent, matched against the webhooks' package filter
	Type      string // one of EventTypes
	// Object is data.object of the envelope, encoded as JSON: a JSON object such as
	// {"object":"run","id":"run_…","packageId":"@acme/x","status":"success","duration":1234,"result":{…}}.
	Object any
}

// Published says what Publish queued.
type Published struct {
	EventID  string   // evt_<uuid>, the webhook-id of every delivery of this event ("" when nothing matched)
	Webhooks []string // the webhooks a delivery was queued for
}

// Publish queues one delivery of ev to every enabled webhook of ev.OrgID that subscribes to ev.Type, is
// org-level or belongs to ev.AppID, and has no package filter or the filter ev.PackageID. Pass the
// transaction that records the run change as q: the deliveries then exist if and only if it commits. With a
// *store.DB the deliveries are queued in a transaction of their own. When no webhook matches, nothing is
// written (and the job tables are not touched).
func (s *Service) Publish(ctx context.Context, q store.Querier, ev Event) (Published, error) {
	if !IsEventType(ev.Type) {
		return Published{}, fmt.Errorf("webhooks: publish: unknown event type %q", ev.Type)
	}
	if ev.OrgID == "" {
		return Published{}, errors.New("webhooks: publish: no organization")
	}
	targets, err := matching(ctx, q, ev)
	if err != nil || len(targets) == 0 {
		return Published{}, err
	}
	out := Published{EventID: ids.New(ids.Event)}
	created := s.now().Unix()
	bodies := map[string]string{}
	args := make([]DeliveryArgs, 0, len(targets))
	for _, t := range targets {
		body, ok := bodies[t.mode]
		if !ok {
			raw, err := BuildEnvelope(out.EventID, ev.Type, created, ev.Object, t.mode)
			if err != nil {
				return Published{}, err
			}
			body = string(raw)
			bodies[t.mode] = body
		}
		args = append(args, DeliveryArgs{WebhookID: t.id, EventID: out.EventID, EventType: ev.Type, Body: body})
		out.Webhooks = append(out.Webhooks, t.id)
	}
	insert := func(tx *store.Tx) error {
		for _, a := range args {
			if _, err := s.Jobs.InsertTx(ctx, tx, a, nil); err != nil {
				return fmt.Errorf("webhooks: queue delivery: %w", err)
			}
		}
		return nil
	}
	switch q := q.(type) {
	case *store.Tx:
		err = insert(q)
	case *store.DB:
		err = q.InTx(ctx, insert)
	default:
		err = fmt.Errorf("webhooks: publish needs a *store.Tx or *store.DB, got %T", q)
	}
	if err != nil {
		return Published{}, err
	}
	return out, nil
}

type target struct{ id, mode string }

// matching returns the webhooks ev is delivered to, oldest first.
func matching(ctx context.Context, q store.Querier, ev Event) ([]target, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, events, package_id, payload_mode FROM webhooks
		WHERE org_id = ? AND enabled = ? AND (level = 'org' OR application_id = ?) ORDER BY created_at, id`,
		ev.OrgID, true, ev.AppID)
	if err != nil {
		return nil, fmt.Errorf("webhooks: match: %w", err)
	}
	defer rows.Close()
	var out []target
	for rows.Next() {
		var id, events, mode string
		var pkg sql.NullString
		if err := rows.Scan(&id, &events, &pkg, &mode); err != nil {
			return nil, fmt.Errorf("webhooks: match: %w", err)
		}
		var types []string
		if err := json.Unmarshal([]byte(events), &types); err != nil {
			return nil, fmt.Errorf("webhooks: match: events of %s: %w", id, err)
		}
		if !contains(types, ev.Type) || (pkg.Valid && pkg.String != "" && pkg.String != ev.PackageID) {
			continue
		}
		out = append(out, target{id: id, mode: mode})
	}
	return out, rows.Err()
}

// TestEvent is the test.ping event queued by SendTest.
type TestEvent struct {
	EventID string
	Payload json.RawMessage // the exact body delivered
}

// SendTest queues a test.ping delivery to webhook id (even when it is disabled) and returns its envelope.
// Unlike upstream, which only builds the envelope, the ping is really delivered, once (no retries), and
// its attempt appears in the webhook's deliveries.
func (s *Service) SendTest(ctx context.Context, sc Scope, id string) (TestEvent, error) {
	w, err := s.Get(ctx, sc, id)
	if err != nil {
		return TestEvent{}, err
	}
	evID := ids.New(ids.Event)
	object := map[string]any{"object": "webhook_test", "webhookId": w.ID, "message": "Test event from Appstrate"}
	body, err := BuildEnvelope(evID, EventTestPing, s.now().Unix(), object, w.PayloadMode)
	if err != nil {
		return TestEvent{}, err
	}
	_, err = s.Jobs.Insert(ctx, DeliveryArgs{WebhookID: w.ID, EventID: evID, EventType: EventTestPing, Body: string(body), Test: true},
		&river.InsertOpts{MaxAttempts: 1})
	if err != nil {
		return TestEvent{}, fmt.Errorf("webhooks: queue test delivery: %w", err)
	}
	return TestEvent{EventID: evID, Payload: body}, nil
}
