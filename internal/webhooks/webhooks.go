package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// NewWebhook is a creation request.
type NewWebhook struct {
	Level         string // LevelOrg | LevelApplication
	ApplicationID string // required for LevelApplication, empty for LevelOrg
	URL           string
	Events        []string
	PackageID     string // "" = every agent
	PayloadMode   string // "" = PayloadFull
	Enabled       *bool  // nil = true
}

// Created is a new webhook with its signing secret (shown only once).
type Created struct {
	Webhook
	Secret string
}

// Patch is a partial update: nil members do not change. ClearPackage removes the package filter.
type Patch struct {
	URL          *string
	Events       []string // nil = unchanged
	PackageID    *string
	ClearPackage bool
	PayloadMode  *string
	Enabled      *bool
}

const webhookColumns = `id, org_id, level, application_id, url, events, package_id, payload_mode, enabled, created_at, updated_at`

var packageIDPattern = regexp.MustCompile(`^@[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$`)

func scanWebhook(row interface{ Scan(...any) error }) (Webhook, error) {
	var w Webhook
	var appID, pkgID sql.NullString
	var events string
	if err := row.Scan(&w.ID, &w.OrgID, &w.Level, &appID, &w.URL, &events, &pkgID, &w.PayloadMode, &w.Enabled,
		&w.CreatedAt, &w.UpdatedAt); err != nil {
		return Webhook{}, err
	}
	w.ApplicationID, w.PackageID = appID.String, pkgID.String
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s: events: %w", w.ID, err)
	}
	if w.Events == nil {
		w.Events = []string{}
	}
	return w, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// normalizeEvents validates the subscribed types and removes duplicates, keeping the first occurrence.
func normalizeEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, invalid("events", "too_small", "at least one event type is required")
	}
	out := make([]string, 0, len(events))
	for i, e := range events {
		if !IsEventType(e) {
			return nil, invalid(fmt.Sprintf("events[%d]", i), "invalid_value",
				"unknown event type "+quote(e)+" (expected one of "+strings.Join(EventTypes, ", ")+")")
		}
		if !contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s *Service) checkURL(raw string) error {
	if err := ValidateURL(raw, s.AllowLocal); err != nil {
		return invalid("url", "invalid_format", err.Error())
	}
	return nil
}

func checkPayloadMode(mode string) error {
	if mode != PayloadFull && mode != PayloadSummary {
		return invalid("payloadMode", "invalid_value", "must be full or summary")
	}
	return nil
}

// checkPackage verifies the package filter names an agent of the organization or a system agent.
func checkPackage(ctx context.Context, q store.Querier, orgID, pkgID string) error {
	if !packageIDPattern.MatchString(pkgID) {
		return invalid("packageId", "invalid_format", "must be a package id such as @scope/name")
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM packages WHERE id = ? AND (org_id = ? OR org_id IS NULL) AND type = 'agent'`,
		pkgID, orgID).Scan(&n)
	if err != nil {
		return fmt.Errorf("check package: %w", err)
	}
	if n == 0 {
		return invalid("packageId", "invalid_value", "no agent "+pkgID+" in this organization")
	}
	return nil
}

// lockScope serialises the creations of one organization so the per-scope limit holds under concurrency
// (SQLite transactions already hold the write lock).
func lockScope(ctx context.Context, tx *store.Tx, orgID string) error {
	if tx.Dialect() != store.Postgres {
		return nil
	}
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM organizations WHERE id = ? FOR UPDATE`, orgID).Scan(&id); err != nil {
		return fmt.Errorf("lock organization: %w", store.MapNotFound(err))
	}
	return nil
}

// Create validates in and stores a webhook with a fresh secret. by is the audit template of the caller.
func (s *Service) Create(ctx context.Context, sc Scope, in NewWebhook, by audit.Event) (Created, error) {
	if s.Keyring == nil {
		return Created{}, ErrNoKeyring
	}
	switch in.Level {
	case LevelOrg:
		if sc.AppID != "" {
			return Created{}, ErrForbiddenScope
		}
		if in.ApplicationID != "" {
			return Created{}, invalid("applicationId", "invalid_value", "must be omitted for an org-level webhook")
		}
	case LevelApplication:
		if in.ApplicationID == "" {
			return Created{}, invalid("applicationId", "required", "is required for an application-level webhook")
		}
		if sc.AppID != "" && in.ApplicationID != sc.AppID {
			return Created{}, ErrForbiddenScope
		}
	default:
		return Created{}, invalid("level", "invalid_value", "must be org or application")
	}
	if err := s.checkURL(in.URL); err != nil {
		return Created{}, err
	}
	events, err := normalizeEvents(in.Events)
	if err != nil {
		return Created{}, err
	}
	mode := in.PayloadMode
	if mode == "" {
		mode = PayloadFull
	}
	if err := checkPayloadMode(mode); err != nil {
		return Created{}, err
	}
	enabled := in.Enabled == nil || *in.Enabled
	secret, err := NewSecret()
	if err != nil {
		return Created{}, fmt.Errorf("webhook secret: %w", err)
	}
	sealed, err := s.Keyring.Encrypt([]byte(secret))
	if err != nil {
		return Created{}, fmt.Errorf("encrypt webhook secret: %w", err)
	}
	now := isotime.Now()
	w := Webhook{ID: ids.New(ids.Webhook), OrgID: sc.OrgID, Level: in.Level, ApplicationID: in.ApplicationID, URL: in.URL,
		Events: events, PackageID: in.PackageID, PayloadMode: mode, Enabled: enabled, CreatedAt: now, UpdatedAt: now}
	eventsJSON, _ := json.Marshal(events)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := lockScope(ctx, tx, sc.OrgID); err != nil {
			return err
		}
		var n int
		if w.Level == LevelApplication {
			var org string
			err := tx.QueryRowContext(ctx, `SELECT org_id FROM applications WHERE id = ?`, w.ApplicationID).Scan(&org)
			if errors.Is(store.MapNotFound(err), store.ErrNotFound) || (err == nil && org != sc.OrgID) {
				return ErrApplicationNotFound
			}
			if err != nil {
				return fmt.Errorf("find application: %w", err)
			}
			err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE application_id = ?`, w.ApplicationID).Scan(&n)
			if err != nil {
				return fmt.Errorf("count webhooks: %w", err)
			}
		} else if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE org_id = ? AND level = 'org'`,
			sc.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("count webhooks: %w", err)
		}
		if n >= MaxPerScope {
			return ErrLimitReached
		}
		if w.PackageID != "" {
			if err := checkPackage(ctx, tx, sc.OrgID, w.PackageID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`, secret_encrypted)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.OrgID, w.Level, nullable(w.ApplicationID), w.URL, string(eventsJSON), nullable(w.PackageID), w.PayloadMode,
			w.Enabled, now, now, sealed); err != nil {
			return fmt.Errorf("insert webhook: %w", err)
		}
		s.audit(ctx, tx, by, w, "webhook.created", nil, w)
		return nil
	})
	if err != nil {
		return Created{}, err
	}
	return Created{Webhook: w, Secret: secret}, nil
}

// audit records one change of w (best effort, in the caller's transaction).
func (s *Service) audit(ctx context.Context, q store.Querier, by audit.Event, w Webhook, action string, before, after any) {
	by.OrgID, by.ApplicationID = w.OrgID, w.ApplicationID
	by.Action, by.ResourceType, by.ResourceID = action, "webhook", w.ID
	by.Before, by.After = auditDoc(before), auditDoc(after)
	audit.Record(ctx, q, by)
}

// auditDoc is the audit form of a webhook (never a secret).
func auditDoc(v any) any {
	w, ok := v.(Webhook)
	if !ok {
		return v
	}
	return map[string]any{"level": w.Level, "applicationId": nullable(w.ApplicationID), "url": w.URL, "events": w.Events,
		"packageId": nullable(w.PackageID), "payloadMode": w.PayloadMode, "enabled": w.Enabled}
}

// List returns webhooks of the organization, newest first (API.md §4.15):
//   - an API key (sc.AppID set) sees the application-level webhooks of its application only; naming another
//     application is ErrForbiddenScope;
//   - otherwise all = every webhook of the organization; applicationID = the org-level webhooks plus that
//     application's; neither = the org-level webhooks only.
func (s *Service) List(ctx context.Context, sc Scope, applicationID string, all bool) ([]Webhook, error) {
	where, args := "org_id = ? AND level = 'org'", []any{sc.OrgID}
	switch {
	case sc.AppID != "":
		if applicationID != "" && applicationID != sc.AppID {
			return nil, ErrForbiddenScope
		}
		where, args = "org_id = ? AND application_id = ?", []any{sc.OrgID, sc.AppID}
	case all:
		where = "org_id = ?"
	case applicationID != "":
		var org string
		err := s.DB.QueryRowContext(ctx, `SELECT org_id FROM applications WHERE id = ?`, applicationID).Scan(&org)
		if errors.Is(store.MapNotFound(err), store.ErrNotFound) || (err == nil && org != sc.OrgID) {
			return nil, ErrApplicationNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("find application: %w", err)
		}
		where, args = "org_id = ? AND (level = 'org' OR application_id = ?)", []any{sc.OrgID, applicationID}
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE `+where+
		` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// getIn reads webhook id as sc may see it: other organizations' webhooks, and for API keys webhooks outside
// their application, are ErrNotFound.
func getIn(ctx context.Context, q store.Querier, sc Scope, id string, forUpdate bool) (Webhook, error) {
	query := `SELECT ` + webhookColumns + ` FROM webhooks WHERE id = ? AND org_id = ?`
	args := []any{id, sc.OrgID}
	if sc.AppID != "" {
		query += ` AND application_id = ?`
		args = append(args, sc.AppID)
	}
	if forUpdate && q.Dialect() == store.Postgres {
		query += ` FOR UPDATE`
	}
	w, err := scanWebhook(q.QueryRowContext(ctx, query, args...))
	if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
		return Webhook{}, ErrNotFound
	}
	if err != nil {
		return Webhook{}, fmt.Errorf("get webhook: %w", err)
	}
	return w, nil
}

// Get returns webhook id as sc may see it.
func (s *Service) Get(ctx context.Context, sc Scope, id string) (Webhook, error) {
	return getIn(ctx, s.DB, sc, id, false)
}

// Update applies p to webhook id (the level and application never change).
func (s *Service) Update(ctx context.Context, sc Scope, id string, p Patch, by audit.Event) (Webhook, error) {
	var out Webhook
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		w, err := getIn(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		before := w
		if p.URL != nil {
			if err := s.checkURL(*p.URL); err != nil {
				return err
			}
			w.URL = *p.URL
		}
		if p.Events != nil {
			if w.Events, err = normalizeEvents(p.Events); err != nil {
				return err
			}
		}
		switch {
		case p.ClearPackage:
			w.PackageID = ""
		case p.PackageID != nil && *p.PackageID != w.PackageID:
			if err := checkPackage(ctx, tx, w.OrgID, *p.PackageID); err != nil {
				return err
			}
			w.PackageID = *p.PackageID
		}
		if p.PayloadMode != nil {
			if err := checkPayloadMode(*p.PayloadMode); err != nil {
				return err
			}
			w.PayloadMode = *p.PayloadMode
		}
		if p.Enabled != nil {
			w.Enabled = *p.Enabled
		}
		w.UpdatedAt = isotime.Now()
		eventsJSON, _ := json.Marshal(w.Events)
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, events = ?, package_id = ?, payload_mode = ?, enabled = ?,
			updated_at = ? WHERE id = ?`, w.URL, string(eventsJSON), nullable(w.PackageID), w.PayloadMode, w.Enabled,
			w.UpdatedAt, w.ID); err != nil {
			return fmt.Errorf("update webhook: %w", err)
		}
		s.audit(ctx, tx, by, w, "webhook.updated", before, w)
		out = w
		return nil
	})
	return out, err
}

// Delete removes webhook id and its delivery history. Deliveries already queued are dropped when their
// job runs.
func (s *Service) Delete(ctx context.Context, sc Scope, id string, by audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		w, err := getIn(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, w.ID); err != nil {
			return fmt.Errorf("delete webhook: %w", err)
		}
		s.audit(ctx, tx, by, w, "webhook.deleted", w, nil)
		return nil
	})
}

// Rotated is the outcome of a secret rotation.
type Rotated struct {
	Secret       string       // the new secret, signing from now on
	Previous     string       // the secret still signing until WindowEndsAt
	WindowEndsAt isotime.Time // when Previous stops signing (promotion happens on the next delivery after it)
}

// Rotate gives webhook id a new secret. During window (DefaultRotateWindow when nil; 0..MaxRotateWindow)
// deliveries carry two signatures, the current secret's and the new one's; the first delivery after the
// window promotes the new secret and drops the old. Rotating again during a window replaces the pending
// secret (the current one stays valid); a pending secret whose window is over is promoted first.
func (s *Service) Rotate(ctx context.Context, sc Scope, id string, window *time.Duration, by audit.Event) (Rotated, error) {
	if s.Keyring == nil {
		return Rotated{}, ErrNoKeyring
	}
	d := DefaultRotateWindow
	if window != nil {
		d = *window
	}
	if d < 0 || d > MaxRotateWindow {
		return Rotated{}, invalid("windowSeconds", "out_of_range", fmt.Sprintf("must be between 0 and %d", int(MaxRotateWindow/time.Second)))
	}
	fresh, err := NewSecret()
	if err != nil {
		return Rotated{}, fmt.Errorf("webhook secret: %w", err)
	}
	sealed, err := s.Keyring.Encrypt([]byte(fresh))
	if err != nil {
		return Rotated{}, fmt.Errorf("encrypt webhook secret: %w", err)
	}
	var out Rotated
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		w, err := getIn(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		keys, err := s.loadSecrets(ctx, tx, w.ID)
		if err != nil {
			return err
		}
		now := s.now()
		current := keys.current
		if keys.next != "" && !now.Before(keys.nextExpires.Time) {
			current = keys.next // the previous window is over: its secret is the current one
		}
		sealedCurrent, err := s.Keyring.Encrypt([]byte(current))
		if err != nil {
			return fmt.Errorf("encrypt webhook secret: %w", err)
		}
		ends := isotime.From(now.Add(d))
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET secret_encrypted = ?, secret_next_encrypted = ?,
			secret_next_expires_at = ?, updated_at = ? WHERE id = ?`, sealedCurrent, sealed, ends, isotime.Now(), w.ID); err != nil {
			return fmt.Errorf("rotate webhook secret: %w", err)
		}
		s.audit(ctx, tx, by, w, "webhook.secret_rotated", nil, map[string]any{"rotationWindowEndsAt": ends})
		out = Rotated{Secret: fresh, Previous: current, WindowEndsAt: ends}
		return nil
	})
	return out, err
}

// secretSet is the decrypted signing state of one webhook.
type secretSet struct {
	current     string
	next        string // "" outside a rotation window
	nextExpires isotime.Time
}

func (s *Service) loadSecrets(ctx context.Context, q store.Querier, id string) (secretSet, error) {
	var cur string
	var next sql.NullString
	var set secretSet
	err := q.QueryRowContext(ctx, `SELECT secret_encrypted, secret_next_encrypted, secret_next_expires_at FROM webhooks WHERE id = ?`,
		id).Scan(&cur, &next, &set.nextExpires)
	if err != nil {
		return secretSet{}, fmt.Errorf("read webhook secret: %w", store.MapNotFound(err))
	}
	plain, err := s.Keyring.Decrypt(cur)
	if err != nil {
		return secretSet{}, fmt.Errorf("decrypt webhook secret: %w", err)
	}
	set.current = string(plain)
	if next.Valid && next.String != "" {
		plain, err := s.Keyring.Decrypt(next.String)
		if err != nil {
			return secretSet{}, fmt.Errorf("decrypt next webhook secret: %w", err)
		}
		set.next = string(plain)
	}
	return set, nil
}
