package providers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// AppCredentialsInput is the body of PUT /api/providers/credentials/{scope}/{name} and of
// PUT /api/applications/{applicationId}/providers/{scope}/{name}/credentials.
type AppCredentialsInput struct {
	// Credentials are merged over the stored ones (nil: unchanged); the result must satisfy the provider's
	// admin credential schema.
	Credentials map[string]any
	// Enabled changes the enablement (nil: unchanged; a new row is enabled).
	Enabled *bool
	// InvalidateConnections marks every connection made with this application's credentials for the provider
	// as needing reconnection (deliberately not upstream's deletion: the rows and their history stay).
	InvalidateConnections bool
}

// AppProvider is one row of GET /api/applications/{applicationId}/providers.
type AppProvider struct {
	ProviderID        string `json:"providerId"`
	HasAppCredentials bool   `json:"hasAppCredentials" doc:"The application stored non-empty admin credentials"`
	AppEnabled        bool   `json:"appEnabled"`
}

// checkApp verifies that appID is an application of the actor's organization and, for an API key, its own.
func checkApp(ctx context.Context, q store.Querier, a ConnectionActor, appID string) error {
	var orgID string
	err := q.QueryRowContext(ctx, `SELECT org_id FROM applications WHERE id = ?`, appID).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && orgID != a.OrgID) {
		return fmt.Errorf("%w: %s", ErrApplicationNotFound, appID)
	}
	if err != nil {
		return fmt.Errorf("find application %s: %w", appID, err)
	}
	if a.APIKeyID != "" && a.AppID != appID {
		return ErrApplicationForbidden
	}
	return nil
}

// AppProviders lists the providers that have a credential row in the application, by provider id.
func (s *Providers) AppProviders(ctx context.Context, a ConnectionActor, appID string) ([]AppProvider, error) {
	if err := checkApp(ctx, s.DB, a, appID); err != nil {
		return nil, err
	}
	rows, err := appCredentials(ctx, s.DB, appID)
	if err != nil {
		return nil, err
	}
	out := make([]AppProvider, 0, len(rows))
	for _, id := range sortedKeys(rows) {
		c := rows[id]
		creds, err := decryptMap(s.Keys, c.Envelope)
		if err != nil {
			return nil, err
		}
		out = append(out, AppProvider{ProviderID: id, HasAppCredentials: len(creds) > 0, AppEnabled: c.Enabled})
	}
	return out, nil
}

// SetAppCredentials upserts the application's admin credentials and enablement of a provider the organization
// sees (PACKAGES.md §4.3). The credentials are stored encrypted; nothing is ever returned.
func (s *Providers) SetAppCredentials(ctx context.Context, a ConnectionActor, appID, providerID string, in AppCredentialsInput) error {
	if err := checkApp(ctx, s.DB, a, appID); err != nil {
		return err
	}
	p, err := LoadProvider(ctx, s.DB, a.OrgID, providerID)
	if err != nil {
		return err
	}
	var submitted map[string]string
	if in.Credentials != nil {
		// Shape checks on what was sent (no schema yet: the merged result is checked below).
		if submitted, err = ValidateCredentials(nil, in.Credentials, "credentials"); err != nil {
			return err
		}
		var empty []FieldIssue
		for _, k := range sortedKeys(submitted) {
			if submitted[k] == "" {
				empty = append(empty, FieldIssue{Field: "credentials." + k, Code: "out_of_range", Message: "must not be empty"})
			}
		}
		if len(empty) > 0 {
			return &ValidationError{Issues: empty}
		}
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, err := loadAppCredential(ctx, tx, appID, providerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load credentials of %s: %w", providerID, err)
		}
		now := isotime.Now()
		if cur == nil {
			cur = &appCredential{ID: ids.UUID(), AppID: appID, ProviderID: providerID, Enabled: true}
		}
		stored, err := decryptMap(s.Keys, cur.Envelope)
		if err != nil {
			return err
		}
		env := cur.Envelope
		if submitted != nil {
			merged := make(map[string]any, len(stored)+len(submitted))
			for k, v := range stored {
				merged[k] = v
			}
			for k, v := range submitted {
				merged[k] = v
			}
			final, err := ValidateCredentials(p.Def().AdminSchema(), merged, "credentials")
			if err != nil {
				return err
			}
			e, err := encryptMap(s.Keys, final)
			if err != nil {
				return err
			}
			env = sql.NullString{String: e, Valid: true}
		}
		enabled := cur.Enabled
		if in.Enabled != nil {
			enabled = *in.Enabled
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO application_provider_credentials
			(id, application_id, provider_id, credentials_encrypted, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (application_id, provider_id) DO UPDATE SET credentials_encrypted = excluded.credentials_encrypted,
			enabled = excluded.enabled, updated_at = excluded.updated_at`,
			cur.ID, appID, providerID, env, enabled, now, now)
		if err != nil {
			return fmt.Errorf("store credentials of %s: %w", providerID, err)
		}
		if in.InvalidateConnections {
			if _, err := tx.ExecContext(ctx, `UPDATE user_provider_connections SET needs_reconnection = ?, updated_at = ?
				WHERE provider_credential_id = ?`, true, now, cur.ID); err != nil {
				return fmt.Errorf("invalidate connections of %s: %w", providerID, err)
			}
		}
		ev := a.Audit
		ev.OrgID, ev.ApplicationID = a.OrgID, appID
		ev.Action, ev.ResourceType, ev.ResourceID = "provider_credentials.updated", "provider", providerID
		ev.After = map[string]any{"enabled": enabled, "credentialsChanged": submitted != nil,
			"invalidateConnections": in.InvalidateConnections}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// DeleteAppCredentials removes the application's credential row for a provider, which disables the provider
// in the application and deletes every connection made with those credentials (cascade). Deleting a row that
// does not exist is not an error.
func (s *Providers) DeleteAppCredentials(ctx context.Context, a ConnectionActor, appID, providerID string) error {
	if err := checkApp(ctx, s.DB, a, appID); err != nil {
		return err
	}
	if _, err := LoadProvider(ctx, s.DB, a.OrgID, providerID); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM application_provider_credentials WHERE application_id = ? AND provider_id = ?`,
			appID, providerID)
		if err != nil {
			return fmt.Errorf("delete credentials of %s: %w", providerID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ev := a.Audit
			ev.OrgID, ev.ApplicationID = a.OrgID, appID
			ev.Action, ev.ResourceType, ev.ResourceID = "provider_credentials.deleted", "provider", providerID
			audit.Record(ctx, tx, ev)
		}
		return nil
	})
}
