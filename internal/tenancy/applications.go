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

// MaxAllowedRedirectDomains bounds ApplicationSettings.AllowedRedirectDomains.
const MaxAllowedRedirectDomains = 20

// Applications owns the applications of organizations. An API key only reaches the application it is
// pinned to and never creates one; permissions are checked by the transport (RBAC matrix).
type Applications struct {
	DB *store.DB
}

// Application is an application of an organization (wire object "application").
type Application struct {
	Object    string              `json:"object" enum:"application"`
	ID        string              `json:"id" doc:"app_<uuid>"`
	OrgID     string              `json:"orgId"`
	Name      string              `json:"name"`
	IsDefault bool                `json:"isDefault"`
	Settings  ApplicationSettings `json:"settings"`
	CreatedBy *string             `json:"createdBy" doc:"User id of the creator"`
	CreatedAt isotime.Time        `json:"createdAt"`
	UpdatedAt isotime.Time        `json:"updatedAt"`
}

// ApplicationSettings are an application's settings (applications.settings).
type ApplicationSettings struct {
	AllowedRedirectDomains []string `json:"allowedRedirectDomains,omitempty" maxItems:"20" doc:"Domains OIDC clients of this application may redirect to"`
}

// CreateApplicationInput is the body of POST /api/applications.
type CreateApplicationInput struct {
	Name     string
	Settings *ApplicationSettings
}

// UpdateApplicationInput is a partial update; nil fields are unchanged. Settings replace the stored ones.
type UpdateApplicationInput struct {
	Name     *string
	Settings *ApplicationSettings
}

const applicationColumns = `id, org_id, name, is_default, settings, created_by, created_at, updated_at`

// List returns the applications of the caller's organization, the default one first then by creation; an
// API key sees only its own application.
func (s *Applications) List(ctx context.Context, c Caller) ([]Application, error) {
	query := `SELECT ` + applicationColumns + ` FROM applications WHERE org_id = ?`
	args := []any{c.OrgID}
	if c.IsAPIKey() {
		query += ` AND id = ?`
		args = append(args, c.AppID)
	}
	rows, err := s.DB.QueryContext(ctx, query+` ORDER BY is_default DESC, created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	defer rows.Close()
	out := []Application{}
	for rows.Next() {
		app, err := scanApplication(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *app)
	}
	return out, rows.Err()
}

// Create creates a non-default application in the caller's organization (users only).
func (s *Applications) Create(ctx context.Context, c Caller, in CreateApplicationInput) (*Application, error) {
	if c.IsAPIKey() {
		return nil, rule(ErrForbidden, "API keys cannot create applications")
	}
	name, err := applicationName(in.Name)
	if err != nil {
		return nil, err
	}
	settings := ApplicationSettings{}
	if in.Settings != nil {
		if settings, err = cleanSettings(*in.Settings); err != nil {
			return nil, err
		}
	}
	now := isotime.Now()
	createdBy := c.UserID
	app := &Application{Object: "application", ID: ids.New(ids.App), OrgID: c.OrgID, Name: name, Settings: settings,
		CreatedBy: &createdBy, CreatedAt: now, UpdatedAt: now}
	raw, _ := json.Marshal(settings)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (`+applicationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			app.ID, app.OrgID, app.Name, false, string(raw), nullable(c.UserID), now, now); err != nil {
			return fmt.Errorf("insert application: %w", err)
		}
		e := c.auditEvent(app.OrgID, app.ID, "application.created", "application", app.ID)
		e.After = app
		audit.Record(ctx, tx, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// Get returns an application of the caller's organization.
func (s *Applications) Get(ctx context.Context, c Caller, id string) (*Application, error) {
	if err := pinnedApp(c, id); err != nil {
		return nil, err
	}
	return s.load(ctx, s.DB, c.OrgID, id)
}

// Update renames an application or replaces its settings.
func (s *Applications) Update(ctx context.Context, c Caller, id string, in UpdateApplicationInput) (*Application, error) {
	if err := pinnedApp(c, id); err != nil {
		return nil, err
	}
	var app *Application
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if app, err = s.load(ctx, tx, c.OrgID, id); err != nil {
			return err
		}
		before := *app
		if in.Name != nil {
			if app.Name, err = applicationName(*in.Name); err != nil {
				return err
			}
		}
		if in.Settings != nil {
			if app.Settings, err = cleanSettings(*in.Settings); err != nil {
				return err
			}
		}
		app.UpdatedAt = isotime.Now()
		raw, _ := json.Marshal(app.Settings)
		if _, err := tx.ExecContext(ctx, `UPDATE applications SET name = ?, settings = ?, updated_at = ? WHERE id = ?`,
			app.Name, string(raw), app.UpdatedAt, app.ID); err != nil {
			return fmt.Errorf("update application: %w", err)
		}
		e := c.auditEvent(app.OrgID, app.ID, "application.updated", "application", app.ID)
		e.Before, e.After = before, app
		audit.Record(ctx, tx, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// Delete removes a non-default application and everything it owns (end-users, API keys, profiles... through
// foreign-key cascades).
func (s *Applications) Delete(ctx context.Context, c Caller, id string) error {
	if err := pinnedApp(c, id); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		app, err := s.load(ctx, tx, c.OrgID, id)
		if err != nil {
			return err
		}
		if app.IsDefault {
			return rule(ErrDefaultApplication, "The default application cannot be deleted")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM applications WHERE id = ?`, app.ID); err != nil {
			return fmt.Errorf("delete application: %w", err)
		}
		e := c.auditEvent(app.OrgID, "", "application.deleted", "application", app.ID)
		e.Before = app
		audit.Record(ctx, tx, e)
		return nil
	})
}

func (s *Applications) load(ctx context.Context, q store.Querier, orgID, id string) (*Application, error) {
	app, err := scanApplication(q.QueryRowContext(ctx, `SELECT `+applicationColumns+` FROM applications WHERE id = ? AND org_id = ?`, id, orgID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, rule(ErrNotFound, "Application not found")
	}
	return app, err
}

// pinnedApp refuses an API key access to an application other than its own.
func pinnedApp(c Caller, id string) error {
	if c.IsAPIKey() && c.AppID != id {
		return rule(ErrForbidden, "This API key cannot access another application")
	}
	return nil
}

func scanApplication(row interface{ Scan(...any) error }) (*Application, error) {
	app := Application{Object: "application"}
	var settings string
	if err := row.Scan(&app.ID, &app.OrgID, &app.Name, &app.IsDefault, &settings, &app.CreatedBy, &app.CreatedAt, &app.UpdatedAt); err != nil {
		if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("scan application: %w", err)
	}
	_ = json.Unmarshal([]byte(settings), &app.Settings) // unknown keys are ignored
	return &app, nil
}

func applicationName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 100 {
		return "", rule(ErrInvalid, "name: must be 1 to 100 characters")
	}
	return name, nil
}

// cleanSettings trims and de-duplicates the redirect domains.
func cleanSettings(in ApplicationSettings) (ApplicationSettings, error) {
	if len(in.AllowedRedirectDomains) > MaxAllowedRedirectDomains {
		return ApplicationSettings{}, rule(ErrInvalid, fmt.Sprintf("settings.allowedRedirectDomains: at most %d domains", MaxAllowedRedirectDomains))
	}
	var out ApplicationSettings
	seen := map[string]bool{}
	for _, d := range in.AllowedRedirectDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" {
			return ApplicationSettings{}, rule(ErrInvalid, "settings.allowedRedirectDomains: domains must not be blank")
		}
		if !seen[d] {
			seen[d] = true
			out.AllowedRedirectDomains = append(out.AllowedRedirectDomains, d)
		}
	}
	return out, nil
}
