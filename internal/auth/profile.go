package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// ProfileLanguages are the languages a profile may use.
var ProfileLanguages = []string{"fr", "en"}

// DefaultProfileLanguage is the language of a profile nobody has set yet.
const DefaultProfileLanguage = "fr"

// ErrProfileNotFound means the user behind a profile request does not exist.
var ErrProfileNotFound = errors.New("user not found")

// Profile is a user's profile with the identity fields the dashboard shows (GET /api/profile).
type Profile struct {
	ID          string
	DisplayName string
	Language    string
	Email       string
	Name        string
}

// ProfileName is one entry of a display-name lookup.
type ProfileName struct {
	ID          string
	DisplayName string
}

// ProfileUpdate changes a profile; nil fields are left as they are.
type ProfileUpdate struct {
	Language    *string
	DisplayName *string
}

// Profiles owns the profiles table (display name, language).
type Profiles struct{ DB *store.DB }

// Get returns userID's profile. A user without a profile row gets the defaults Better Auth would have
// written at sign-up: display name = name, else email; language fr.
func (p Profiles) Get(ctx context.Context, userID string) (Profile, error) {
	var (
		out           Profile
		display, lang *string
	)
	err := p.DB.QueryRowContext(ctx, `SELECT u.id, u.email, u.name, pr.display_name, pr.language
		FROM users u LEFT JOIN profiles pr ON pr.id = u.id WHERE u.id = ?`, userID).
		Scan(&out.ID, &out.Email, &out.Name, &display, &lang)
	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
		return Profile{}, ErrProfileNotFound
	}
	if err != nil {
		return Profile{}, fmt.Errorf("get profile %s: %w", userID, err)
	}
	out.DisplayName = profDisplayName(profDeref(display), out.Name, out.Email)
	out.Language = DefaultProfileLanguage
	if lang != nil && *lang != "" {
		out.Language = *lang
	}
	return out, nil
}

// Update applies u to userID's profile (creating the row when missing) and returns the result.
func (p Profiles) Update(ctx context.Context, userID string, u ProfileUpdate) (Profile, error) {
	err := p.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := profEnsureRow(ctx, tx, userID); err != nil {
			return err
		}
		now := isotime.Now()
		if u.Language != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE profiles SET language = ?, updated_at = ? WHERE id = ?`, *u.Language, now, userID); err != nil {
				return fmt.Errorf("update language: %w", err)
			}
		}
		if u.DisplayName != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE profiles SET display_name = ?, updated_at = ? WHERE id = ?`, strings.TrimSpace(*u.DisplayName), now, userID); err != nil {
				return fmt.Errorf("update display name: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Profile{}, err
	}
	return p.Get(ctx, userID)
}

// CompleteWelcome finishes the first-login setup: the profile exists afterwards, with displayName when
// one is given (blank values are ignored).
func (p Profiles) CompleteWelcome(ctx context.Context, userID string, name *string) error {
	u := ProfileUpdate{}
	if name != nil && strings.TrimSpace(*name) != "" {
		u.DisplayName = name
	}
	_, err := p.Update(ctx, userID, u)
	return err
}

// DisplayNames returns the display names of those of userIDs who are members of orgID, in the order of
// userIDs (duplicates and non-members omitted).
func (p Profiles) DisplayNames(ctx context.Context, orgID string, userIDs []string) ([]ProfileName, error) {
	seen := map[string]bool{}
	var wanted []string
	for _, id := range userIDs {
		if id != "" && !seen[id] {
			seen[id] = true
			wanted = append(wanted, id)
		}
	}
	out := []ProfileName{}
	if len(wanted) == 0 {
		return out, nil
	}
	args := []any{orgID}
	for _, id := range wanted {
		args = append(args, id)
	}
	rows, err := p.DB.QueryContext(ctx, `SELECT u.id, u.name, u.email, pr.display_name
		FROM org_members m JOIN users u ON u.id = m.user_id LEFT JOIN profiles pr ON pr.id = u.id
		WHERE m.org_id = ? AND m.user_id IN (?`+strings.Repeat(", ?", len(wanted)-1)+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("profile names: %w", err)
	}
	defer rows.Close()
	byID := map[string]string{}
	for rows.Next() {
		var id, name, email string
		var display *string
		if err := rows.Scan(&id, &name, &email, &display); err != nil {
			return nil, fmt.Errorf("scan profile name: %w", err)
		}
		byID[id] = profDisplayName(profDeref(display), name, email)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("profile names: %w", err)
	}
	for _, id := range wanted {
		if name, ok := byID[id]; ok {
			out = append(out, ProfileName{ID: id, DisplayName: name})
		}
	}
	return out, nil
}

// profEnsureRow inserts the default profile row of userID when it is missing.
func profEnsureRow(ctx context.Context, q store.Querier, userID string) error {
	var name, email string
	err := q.QueryRowContext(ctx, `SELECT name, email FROM users WHERE id = ?`, userID).Scan(&name, &email)
	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
		return ErrProfileNotFound
	}
	if err != nil {
		return fmt.Errorf("find user %s: %w", userID, err)
	}
	now := isotime.Now()
	_, err = q.ExecContext(ctx, `INSERT INTO profiles (id, display_name, language, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, userID, profDisplayName("", name, email), DefaultProfileLanguage, now, now)
	if err != nil {
		return fmt.Errorf("create profile %s: %w", userID, err)
	}
	return nil
}

// profDisplayName picks the first non-blank of the stored display name, the user name and the email.
func profDisplayName(display, name, email string) string {
	for _, s := range []string{display, name, email} {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func profDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
