package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Errors of the end-user service.
var (
	ErrEndUserNotFound   = errors.New("end-user not found")
	ErrExternalIDTaken   = errors.New("an end-user with this externalId already exists in this application")
	ErrEndUserEmailTaken = errors.New("an end-user with this email already exists in this application")
	// ErrCursorNotFound means startingAfter/endingBefore names no end-user of the application.
	ErrCursorNotFound = errors.New("pagination cursor not found")
)

// EndUser is one end-user of an application: a user of the customer's product, managed through the API.
type EndUser struct {
	ID            string
	ApplicationID string
	OrgID         string
	Name          *string
	Email         *string
	ExternalID    *string
	Metadata      map[string]any // nil = no metadata
	CreatedAt     isotime.Time
	UpdatedAt     isotime.Time
}

// NewEndUser is a creation request; nil fields stay null.
type NewEndUser struct {
	Name       *string
	Email      *string
	ExternalID *string
	Metadata   map[string]any
}

// EndUserPatch is a partial update: a field changes only when its Set flag is true (a nil value then
// clears it).
type EndUserPatch struct {
	Name, Email, ExternalID          *string
	Metadata                         map[string]any
	SetName, SetEmail, SetExternalID bool
	SetMetadata                      bool
}

// EndUserQuery selects a cursor page of end-users (newest first).
type EndUserQuery struct {
	Limit         int    // 1..100
	StartingAfter string // end-user id: the page after it (older)
	EndingBefore  string // end-user id: the page before it (newer)
	ExternalID    string // exact filter
	Email         string // exact filter
	OnlyID        string // restrict to one end-user (an impersonated caller sees only itself)
}

// EndUserPage is one page of end-users, newest first. HasMore reports whether more items exist beyond the
// page in the direction of travel (older when paging forward, newer when paging with EndingBefore).
type EndUserPage struct {
	Items   []EndUser
	HasMore bool
}

// EndUsers owns the end_users table and the default connection profile each end-user gets.
type EndUsers struct{ DB *store.DB }

const endUserColumns = `id, application_id, org_id, name, email, external_id, metadata, created_at, updated_at`

// Create validates in and inserts the end-user with its `Default` connection profile in one transaction.
func (s EndUsers) Create(ctx context.Context, orgID, appID string, in NewEndUser, by audit.Event) (EndUser, error) {
	if v := validateEndUserFields(in.Name, in.Email, in.ExternalID, in.Metadata); len(v) > 0 {
		return EndUser{}, &InvalidEndUserError{Violations: v}
	}
	now := isotime.Now()
	eu := EndUser{ID: ids.New(ids.EndUser), ApplicationID: appID, OrgID: orgID, Name: in.Name, Email: in.Email,
		ExternalID: in.ExternalID, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now}
	meta, err := encodeEndUserMetadata(eu.Metadata)
	if err != nil {
		return EndUser{}, err
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := checkEndUserUnique(ctx, tx, appID, "", eu.Email, eu.ExternalID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO end_users (`+endUserColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			eu.ID, appID, orgID, eu.Name, eu.Email, eu.ExternalID, meta, now, now); err != nil {
			return fmt.Errorf("insert end-user: %w", err)
		}
		if err := createEndUserDefaultProfile(ctx, tx, eu.ID, now); err != nil {
			return err
		}
		by.OrgID, by.ApplicationID = orgID, appID
		by.Action, by.ResourceType, by.ResourceID, by.After = "end_user.created", "end_user", eu.ID, endUserAudit(eu)
		audit.Record(ctx, tx, by)
		return nil
	})
	if err != nil {
		return EndUser{}, s.uniqueError(ctx, appID, "", eu.Email, eu.ExternalID, err)
	}
	return eu, nil
}

// Get returns the end-user id of application appID.
func (s EndUsers) Get(ctx context.Context, appID, id string) (EndUser, error) {
	return getEndUser(ctx, s.DB, appID, id)
}

// List returns one page of the application's end-users, ordered createdAt desc, id desc.
func (s EndUsers) List(ctx context.Context, appID string, q EndUserQuery) (EndUserPage, error) {
	where := []string{"application_id = ?"}
	args := []any{appID}
	for _, f := range []struct{ col, val string }{{"external_id", q.ExternalID}, {"email", q.Email}, {"id", q.OnlyID}} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	order := "DESC"
	if cursor := q.StartingAfter + q.EndingBefore; cursor != "" {
		if _, err := getEndUser(ctx, s.DB, appID, cursor); errors.Is(err, ErrEndUserNotFound) {
			return EndUserPage{}, ErrCursorNotFound
		} else if err != nil {
			return EndUserPage{}, err
		}
		op := "<"
		if q.EndingBefore != "" {
			op, order = ">", "ASC"
		}
		where = append(where, "(created_at, id) "+op+" (SELECT created_at, id FROM end_users WHERE id = ?)")
		args = append(args, cursor)
	}
	limit := q.Limit
	if limit < 1 || limit > 100 {
		limit = 20
	}
	args = append(args, limit+1)
	rows, err := s.DB.QueryContext(ctx, `SELECT `+endUserColumns+` FROM end_users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at `+order+`, id `+order+` LIMIT ?`, args...)
	if err != nil {
		return EndUserPage{}, fmt.Errorf("list end-users: %w", err)
	}
	defer rows.Close()
	page := EndUserPage{Items: []EndUser{}}
	for rows.Next() {
		eu, err := scanEndUser(rows)
		if err != nil {
			return EndUserPage{}, err
		}
		page.Items = append(page.Items, eu)
	}
	if err := rows.Err(); err != nil {
		return EndUserPage{}, fmt.Errorf("list end-users: %w", err)
	}
	if len(page.Items) > limit {
		page.Items, page.HasMore = page.Items[:limit], true
	}
	if order == "ASC" { // fetched oldest-first after the cursor: present newest first
		for i, j := 0, len(page.Items)-1; i < j; i, j = i+1, j-1 {
			page.Items[i], page.Items[j] = page.Items[j], page.Items[i]
		}
	}
	return page, nil
}

// Update applies p to end-user id of application appID.
func (s EndUsers) Update(ctx context.Context, appID, id string, p EndUserPatch, by audit.Event) (EndUser, error) {
	var name, email, external *string
	var meta map[string]any
	if p.SetName {
		name = p.Name
	}
	if p.SetEmail {
		email = p.Email
	}
	if p.SetExternalID {
		external = p.ExternalID
	}
	if p.SetMetadata {
		meta = p.Metadata
	}
	if v := validateEndUserFields(name, email, external, meta); len(v) > 0 {
		return EndUser{}, &InvalidEndUserError{Violations: v}
	}
	var out EndUser
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		before, err := getEndUser(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		out = before
		if p.SetName {
			out.Name = p.Name
		}
		if p.SetEmail {
			out.Email = p.Email
		}
		if p.SetExternalID {
			out.ExternalID = p.ExternalID
		}
		if p.SetMetadata {
			out.Metadata = p.Metadata
		}
		out.UpdatedAt = isotime.Now()
		if err := checkEndUserUnique(ctx, tx, appID, id, endUserChanged(p.SetEmail, out.Email), endUserChanged(p.SetExternalID, out.ExternalID)); err != nil {
			return err
		}
		encoded, err := encodeEndUserMetadata(out.Metadata)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE end_users SET name = ?, email = ?, external_id = ?, metadata = ?, updated_at = ?
			WHERE id = ? AND application_id = ?`, out.Name, out.Email, out.ExternalID, encoded, out.UpdatedAt, id, appID); err != nil {
			return fmt.Errorf("update end-user: %w", err)
		}
		by.OrgID, by.ApplicationID = before.OrgID, appID
		by.Action, by.ResourceType, by.ResourceID = "end_user.updated", "end_user", id
		by.Before, by.After = endUserAudit(before), endUserAudit(out)
		audit.Record(ctx, tx, by)
		return nil
	})
	if err != nil {
		return EndUser{}, s.uniqueError(ctx, appID, id, endUserChanged(p.SetEmail, p.Email), endUserChanged(p.SetExternalID, p.ExternalID), err)
	}
	return out, nil
}

// Delete removes end-user id of application appID (its connection profiles go with it).
func (s EndUsers) Delete(ctx context.Context, appID, id string, by audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		before, err := getEndUser(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM end_users WHERE id = ? AND application_id = ?`, id, appID); err != nil {
			return fmt.Errorf("delete end-user: %w", err)
		}
		by.OrgID, by.ApplicationID = before.OrgID, appID
		by.Action, by.ResourceType, by.ResourceID, by.Before = "end_user.deleted", "end_user", id, endUserAudit(before)
		audit.Record(ctx, tx, by)
		return nil
	})
}

// endUserChanged returns v when set, else nil (an unchanged field needs no uniqueness check).
func endUserChanged(set bool, v *string) *string {
	if !set {
		return nil
	}
	return v
}

// checkEndUserUnique reports ErrExternalIDTaken / ErrEndUserEmailTaken when another end-user of appID
// (other than exceptID) already uses externalID / email.
func checkEndUserUnique(ctx context.Context, q store.Querier, appID, exceptID string, email, externalID *string) error {
	for _, c := range []struct {
		col string
		val *string
		err error
	}{{"external_id", externalID, ErrExternalIDTaken}, {"email", email, ErrEndUserEmailTaken}} {
		if c.val == nil {
			continue
		}
		var id string
		err := q.QueryRowContext(ctx, `SELECT id FROM end_users WHERE application_id = ? AND `+c.col+` = ? AND id <> ? LIMIT 1`,
			appID, *c.val, exceptID).Scan(&id)
		if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check %s: %w", c.col, err)
		}
		return c.err
	}
	return nil
}

// uniqueError turns a unique violation raised by a concurrent writer into the matching typed error.
func (s EndUsers) uniqueError(ctx context.Context, appID, exceptID string, email, externalID *string, err error) error {
	if !store.IsUniqueViolation(err) {
		return err
	}
	if typed := checkEndUserUnique(ctx, s.DB, appID, exceptID, email, externalID); errors.Is(typed, ErrExternalIDTaken) || errors.Is(typed, ErrEndUserEmailTaken) {
		return typed
	}
	return ErrExternalIDTaken
}

func getEndUser(ctx context.Context, q store.Querier, appID, id string) (EndUser, error) {
	if !ids.Valid(id, ids.EndUser) {
		return EndUser{}, ErrEndUserNotFound
	}
	eu, err := scanEndUser(q.QueryRowContext(ctx, `SELECT `+endUserColumns+` FROM end_users WHERE id = ? AND application_id = ?`, id, appID))
	if errors.Is(store.MapNotFound(err), store.ErrNotFound) {
		return EndUser{}, ErrEndUserNotFound
	}
	return eu, err
}

type endUserRowScanner interface{ Scan(dest ...any) error }

func scanEndUser(row endUserRowScanner) (EndUser, error) {
	var (
		eu   EndUser
		meta []byte
	)
	if err := row.Scan(&eu.ID, &eu.ApplicationID, &eu.OrgID, &eu.Name, &eu.Email, &eu.ExternalID, &meta, &eu.CreatedAt, &eu.UpdatedAt); err != nil {
		return EndUser{}, fmt.Errorf("scan end-user: %w", err)
	}
	if len(meta) > 0 && string(meta) != "null" {
		if err := json.Unmarshal(meta, &eu.Metadata); err != nil {
			return EndUser{}, fmt.Errorf("decode metadata of %s: %w", eu.ID, err)
		}
	}
	return eu, nil
}

// encodeEndUserMetadata returns the column value: NULL for nil, else the JSON document.
func encodeEndUserMetadata(m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

func endUserAudit(eu EndUser) map[string]any {
	return map[string]any{"name": eu.Name, "email": eu.Email, "externalId": eu.ExternalID, "metadata": eu.Metadata}
}
