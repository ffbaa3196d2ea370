package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// DefaultProfileName is the name of the connection profile created with every end-user (and user).
const DefaultProfileName = "Default"

// ErrConnectionProfileNotFound means the connection profile does not exist or is not visible to the caller.
var ErrConnectionProfileNotFound = errors.New("connection profile not found")

// createEndUserDefaultProfile inserts the `Default` connection profile of a new end-user (inside the
// end-user's creation transaction).
func createEndUserDefaultProfile(ctx context.Context, q store.Querier, endUserID string, now isotime.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO connection_profiles (id, end_user_id, name, is_default, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, ids.UUID(), endUserID, DefaultProfileName, true, now, now)
	if err != nil {
		return fmt.Errorf("create default profile of %s: %w", endUserID, err)
	}
	return nil
}

// EndUserDefaultProfile returns the id of endUserID's default connection profile, or "" when it has none.
func EndUserDefaultProfile(ctx context.Context, q store.Querier, endUserID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM connection_profiles WHERE end_user_id = ? AND is_default = ?
		ORDER BY created_at, id LIMIT 1`, endUserID, true).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("default profile of %s: %w", endUserID, err)
	}
	return id, nil
}

// AppProfilePins stores each user's pinned default connection profile per application
// (user_application_profiles; GET/PUT/DELETE /api/me/application-profile).
type AppProfilePins struct{ DB *store.DB }

// Get returns the profile userID pinned for appID, or "" when none is pinned.
func (s AppProfilePins) Get(ctx context.Context, userID, appID string) (string, error) {
	var id string
	err := s.DB.QueryRowContext(ctx, `SELECT profile_id FROM user_application_profiles WHERE user_id = ? AND application_id = ?`,
		userID, appID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pinned profile of %s in %s: %w", userID, appID, err)
	}
	return id, nil
}

// Set pins profileID for userID in appID. The profile must be one of the user's own profiles or a profile
// of the application itself, else ErrConnectionProfileNotFound.
func (s AppProfilePins) Set(ctx context.Context, userID, appID, profileID string) error {
	if !ids.ValidUUID(profileID) {
		return ErrConnectionProfileNotFound
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM connection_profiles WHERE id = ? AND (user_id = ? OR application_id = ?)`,
			profileID, userID, appID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrConnectionProfileNotFound
		}
		if err != nil {
			return fmt.Errorf("find profile %s: %w", profileID, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO user_application_profiles (user_id, application_id, profile_id, updated_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (user_id, application_id)
			DO UPDATE SET profile_id = excluded.profile_id, updated_at = excluded.updated_at`, userID, appID, profileID, isotime.Now())
		if err != nil {
			return fmt.Errorf("pin profile %s: %w", profileID, err)
		}
		return nil
	})
}

// Clear removes userID's pin in appID (no error when there is none).
func (s AppProfilePins) Clear(ctx context.Context, userID, appID string) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM user_application_profiles WHERE user_id = ? AND application_id = ?`, userID, appID); err != nil {
		return fmt.Errorf("unpin profile of %s in %s: %w", userID, appID, err)
	}
	return nil
}
