package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// DefaultAPIVersion is the API version a new organization is pinned to.
const DefaultAPIVersion = "2026-03-21"

// RoleEndUser is the role GET /api/me/orgs reports for an API key impersonating an end-user.
const RoleEndUser = "end_user"

// OrgCreatedHook runs inside the transaction that creates an organization, after the owner membership and the
// default application exist. An error rolls the whole creation back.
type OrgCreatedHook func(ctx context.Context, tx store.Querier, orgID, defaultAppID, userID string) error

// SendInvitationFunc delivers an invitation by email (the link is <APP_URL>/invite/<token>).
type SendInvitationFunc func(ctx context.Context, inv Invitation, inviterName, orgName string) error

// Orgs owns organizations, their members, invitations and settings.
type Orgs struct {
	DB *store.DB

	// DisableCreation refuses POST /api/orgs (AUTH_DISABLE_ORG_CREATION) except for PlatformAdmins.
	DisableCreation bool
	// PlatformAdmins are the lower-cased emails of AUTH_PLATFORM_ADMIN_EMAILS.
	PlatformAdmins []string
	// OnOrgCreated run, in order, inside the creation transaction (the packages area installs the
	// hello-world agent there).
	OnOrgCreated []OrgCreatedHook
	// MailEnabled reports that SMTP is configured; with SendInvitation set, existing users are invited by
	// email instead of being added directly.
	MailEnabled bool
	// SendInvitation sends invitation emails; nil = no mail is sent.
	SendInvitation SendInvitationFunc
	// Logger receives warnings (failed invitation emails); nil = slog.Default().
	Logger *slog.Logger
}

// Caller is who performs an operation, as resolved by the request pipeline, plus the request metadata the
// audit trail records.
type Caller struct {
	UserID string // the user, or an API key's creator
	Email  string
	Name   string

	APIKey    bool      // the caller is an API key
	APIKeyID  string    // its id
	OrgID     string    // current organization (pinned by an API key, else from X-Org-Id)
	OrgPinned bool      // the credential is bound to OrgID (API keys, org-level OIDC tokens)
	AppID     string    // application pinned by the credential
	EndUserID string    // end-user impersonated by an API key
	Role      auth.Role // the caller's role in OrgID

	IP, UserAgent, RequestID string
}

// IsAPIKey reports whether the caller is an API key.
func (c Caller) IsAPIKey() bool { return c.APIKey }

func (c Caller) auditEvent(orgID, appID, action, resourceType, resourceID string) audit.Event {
	e := audit.Event{OrgID: orgID, ApplicationID: appID, ActorType: audit.ActorUser, ActorID: c.UserID,
		Action: action, ResourceType: resourceType, ResourceID: resourceID, IP: c.IP, UserAgent: c.UserAgent,
		RequestID: c.RequestID}
	if c.IsAPIKey() {
		e.ActorType, e.ActorID = audit.ActorAPIKey, c.APIKeyID
	}
	return e
}

// Org is an organization as listed to a caller, with the caller's role in it.
type Org struct {
	ID        string       `json:"id" doc:"Organization id (UUID)"`
	Name      string       `json:"name"`
	Slug      string       `json:"slug"`
	Role      string       `json:"role" enum:"owner,admin,member,viewer,end_user" doc:"The caller's role"`
	CreatedAt isotime.Time `json:"createdAt"`
}

// OrgDetail is an organization with its members and pending invitations.
type OrgDetail struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Slug        string              `json:"slug"`
	Role        string              `json:"role" enum:"owner,admin,member,viewer" doc:"The caller's role"`
	CreatedBy   *string             `json:"createdBy"`
	CreatedAt   isotime.Time        `json:"createdAt"`
	UpdatedAt   isotime.Time        `json:"updatedAt"`
	Members     []OrgMember         `json:"members"`
	Invitations []PendingInvitation `json:"invitations"`
}

// OrgMember is one membership of an organization.
type OrgMember struct {
	UserID   string       `json:"userId"`
	Email    string       `json:"email"`
	Name     string       `json:"name"`
	Role     string       `json:"role" enum:"owner,admin,member,viewer"`
	JoinedAt isotime.Time `json:"joinedAt"`
}

// PendingInvitation is an invitation not yet accepted, cancelled or expired.
type PendingInvitation struct {
	ID        string       `json:"id"`
	Email     string       `json:"email"`
	Role      string       `json:"role" enum:"admin,member,viewer"`
	Status    string       `json:"status" enum:"pending,accepted,expired,cancelled"`
	ExpiresAt isotime.Time `json:"expiresAt"`
	CreatedAt isotime.Time `json:"createdAt"`
	InvitedBy *string      `json:"invitedBy" doc:"User id of the inviter"`
}

// OrgSettings are the organization-level settings (organizations.org_settings).
type OrgSettings struct {
	APIVersion          string `json:"apiVersion,omitempty" doc:"API version requests without Appstrate-Version use"`
	DashboardSSOEnabled *bool  `json:"dashboardSsoEnabled,omitempty"`
}

// SettingsPatch is a partial settings update; nil fields are left unchanged.
type SettingsPatch struct {
	APIVersion          *string
	DashboardSSOEnabled *bool
}

// List returns the organizations of the caller: every membership of a user, only its own organization for
// an API key. With endUserRole, an API key impersonating an end-user sees its organization with role
// end_user (GET /api/me/orgs).
func (s *Orgs) List(ctx context.Context, c Caller, endUserRole bool) ([]Org, error) {
	if c.IsAPIKey() {
		var o Org
		err := s.DB.QueryRowContext(ctx, `SELECT id, name, slug, created_at FROM organizations WHERE id = ?`, c.OrgID).
			Scan(&o.ID, &o.Name, &o.Slug, &o.CreatedAt)
		if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
			return []Org{}, nil
		} else if err != nil {
			return nil, fmt.Errorf("list orgs of api key: %w", err)
		}
		o.Role = string(c.Role)
		if endUserRole && c.EndUserID != "" {
			o.Role = RoleEndUser
		}
		return []Org{o}, nil
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT o.id, o.name, o.slug, m.role, o.created_at
		FROM org_members m JOIN organizations o ON o.id = m.org_id
		WHERE m.user_id = ? ORDER BY o.created_at, o.id`, c.UserID)
	if err != nil {
		return nil, fmt.Errorf("list orgs of %s: %w", c.UserID, err)
	}
	defer rows.Close()
	out := []Org{}
	for rows.Next() {
		var o Org
		if err := rows.Scan(&o.ID, &o.Name, &o.Slug, &o.Role, &o.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan org: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CreateOrgInput is the body of POST /api/orgs.
type CreateOrgInput struct {
	Name string
	Slug string // "" = derived from Name
}

// Create creates an organization owned by the caller, in one transaction: the organization with its
// settings, the owner membership, the default application, the audit event, then the OnOrgCreated hooks.
func (s *Orgs) Create(ctx context.Context, c Caller, in CreateOrgInput) (*Org, error) {
	if c.IsAPIKey() {
		return nil, rule(ErrForbidden, "API keys cannot create organizations")
	}
	if s.DisableCreation && !slices.Contains(s.PlatformAdmins, strings.ToLower(strings.TrimSpace(c.Email))) {
		return nil, rule(ErrOrgCreationDisabled, "Organization creation is disabled on this instance")
	}
	return s.create(ctx, c, in, false)
}

// CreateBootstrapOrg creates the first organization of the bootstrap owner (AUTH_BOOTSTRAP_OWNER_EMAIL) with
// the same side effects as Create, bypassing the creation policy; a taken slug gets a random suffix. It is
// the auth.Accounts CreateBootstrapOrg hook.
func (s *Orgs) CreateBootstrapOrg(ctx context.Context, userID, orgName string) error {
	_, err := s.create(ctx, Caller{UserID: userID}, CreateOrgInput{Name: orgName}, true)
	return err
}

// create inserts the organization and runs the creation side effects; with anySlug a taken derived slug is
// retried with a random suffix.
func (s *Orgs) create(ctx context.Context, c Caller, in CreateOrgInput, anySlug bool) (*Org, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return nil, rule(ErrInvalid, "name: must not be blank")
	}
	slug := in.Slug
	if slug == "" {
		slug = Slugify(name)
	}
	if !ValidSlug(slug) {
		return nil, rule(ErrInvalid, "slug: must be lowercase letters, digits and dashes")
	}
	org := &Org{ID: ids.UUID(), Name: name, Slug: slug, Role: string(auth.RoleOwner), CreatedAt: isotime.Now()}
	appID := ids.New(ids.App)
	settings, _ := json.Marshal(OrgSettings{APIVersion: DefaultAPIVersion})
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO organizations (id, name, slug, org_settings, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, org.ID, org.Name, org.Slug, string(settings), c.UserID, org.CreatedAt, org.CreatedAt)
		if store.IsUniqueViolation(err) {
			return rule(ErrSlugTaken, fmt.Sprintf("The slug %q is already taken", slug))
		}
		if err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'owner', ?)`,
			org.ID, c.UserID, org.CreatedAt); err != nil {
			return fmt.Errorf("insert owner membership: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO applications (id, org_id, name, is_default, settings, created_by, created_at, updated_at)
			VALUES (?, ?, 'Default', ?, '{}', ?, ?, ?)`, appID, org.ID, true, c.UserID, org.CreatedAt, org.CreatedAt); err != nil {
			return fmt.Errorf("insert default application: %w", err)
		}
		e := c.auditEvent(org.ID, "", "org.created", "organization", org.ID)
		e.After = map[string]string{"name": org.Name, "slug": org.Slug}
		audit.Record(ctx, tx, e)
		for _, hook := range s.OnOrgCreated {
			if err := hook(ctx, tx, org.ID, appID, c.UserID); err != nil {
				return fmt.Errorf("org created hook: %w", err)
			}
		}
		return nil
	})
	if errors.Is(err, ErrSlugTaken) && anySlug && in.Slug == "" {
		base := slug
		if len(base) > MaxSlugLength-7 {
			base = strings.TrimRight(base[:MaxSlugLength-7], "-")
		}
		in.Slug = base + "-" + ids.UUID()[:6] // 6 random hex digits
		return s.create(ctx, c, in, false)
	}
	if err != nil {
		return nil, err
	}
	return org, nil
}

// Get returns an organization with its members and pending invitations; any member may read it.
func (s *Orgs) Get(ctx context.Context, c Caller, orgID string) (*OrgDetail, error) {
	role, err := s.roleIn(ctx, c, orgID)
	if err != nil {
		return nil, err
	}
	d := &OrgDetail{Role: string(role), Members: []OrgMember{}, Invitations: []PendingInvitation{}}
	var createdBy *string
	err = s.DB.QueryRowContext(ctx, `SELECT id, name, slug, created_by, created_at, updated_at FROM organizations WHERE id = ?`, orgID).
		Scan(&d.ID, &d.Name, &d.Slug, &createdBy, &d.CreatedAt, &d.UpdatedAt)
	if err = store.MapNotFound(err); err != nil {
		return nil, orgNotFound(err)
	}
	d.CreatedBy = createdBy
	rows, err := s.DB.QueryContext(ctx, `SELECT m.user_id, u.email, u.name, m.role, m.joined_at
		FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY m.joined_at, m.user_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	for rows.Next() {
		var m OrgMember
		if err := rows.Scan(&m.UserID, &m.Email, &m.Name, &m.Role, &m.JoinedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan member: %w", err)
		}
		d.Members = append(d.Members, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	rows, err = s.DB.QueryContext(ctx, `SELECT id, email, role, status, expires_at, created_at, invited_by
		FROM org_invitations WHERE org_id = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at, id`, orgID, isotime.Now())
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var inv PendingInvitation
		if err := rows.Scan(&inv.ID, &inv.Email, &inv.Role, &inv.Status, &inv.ExpiresAt, &inv.CreatedAt, &inv.InvitedBy); err != nil {
			return nil, fmt.Errorf("scan invitation: %w", err)
		}
		d.Invitations = append(d.Invitations, inv)
	}
	return d, rows.Err()
}

// UpdateOrgInput is a partial update of an organization; nil fields are unchanged.
type UpdateOrgInput struct {
	Name *string
	Slug *string
}

// Update renames an organization or changes its slug (owner only).
func (s *Orgs) Update(ctx context.Context, c Caller, orgID string, in UpdateOrgInput) (*Org, error) {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner); err != nil {
		return nil, err
	}
	var org Org
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id, name, slug, created_at FROM organizations WHERE id = ?`, orgID).
			Scan(&org.ID, &org.Name, &org.Slug, &org.CreatedAt)
		if err = store.MapNotFound(err); err != nil {
			return orgNotFound(err)
		}
		before := map[string]string{"name": org.Name, "slug": org.Slug}
		if in.Name != nil {
			name := strings.TrimSpace(*in.Name)
			if name == "" {
				return rule(ErrInvalid, "name: must not be blank")
			}
			org.Name = name
		}
		if in.Slug != nil {
			if !ValidSlug(*in.Slug) {
				return rule(ErrInvalid, "slug: must be lowercase letters, digits and dashes")
			}
			org.Slug = *in.Slug
		}
		_, err = tx.ExecContext(ctx, `UPDATE organizations SET name = ?, slug = ?, updated_at = ? WHERE id = ?`,
			org.Name, org.Slug, isotime.Now(), orgID)
		if store.IsUniqueViolation(err) {
			return rule(ErrSlugTaken, fmt.Sprintf("The slug %q is already taken", org.Slug))
		}
		if err != nil {
			return fmt.Errorf("update organization: %w", err)
		}
		e := c.auditEvent(orgID, "", "org.updated", "organization", orgID)
		e.Before, e.After = before, map[string]string{"name": org.Name, "slug": org.Slug}
		audit.Record(ctx, tx, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	org.Role = string(auth.RoleOwner)
	return &org, nil
}

// Delete removes an organization and everything it owns (foreign-key cascades); owner only.
func (s *Orgs) Delete(ctx context.Context, c Caller, orgID string) error {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var name, slug string
		err := tx.QueryRowContext(ctx, `SELECT name, slug FROM organizations WHERE id = ?`, orgID).Scan(&name, &slug)
		if err = store.MapNotFound(err); err != nil {
			return orgNotFound(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM organizations WHERE id = ?`, orgID); err != nil {
			return fmt.Errorf("delete organization: %w", err)
		}
		e := c.auditEvent(orgID, "", "org.deleted", "organization", orgID)
		e.Before = map[string]string{"name": name, "slug": slug}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// Settings returns an organization's settings; any member may read them (upstream has no membership check
// here; this implementation requires one).
func (s *Orgs) Settings(ctx context.Context, c Caller, orgID string) (*OrgSettings, error) {
	if _, err := s.roleIn(ctx, c, orgID); err != nil {
		return nil, err
	}
	raw, err := s.rawSettings(ctx, s.DB, orgID)
	if err != nil {
		return nil, err
	}
	return decodeSettings(raw), nil
}

// UpdateSettings applies a partial update to an organization's settings (owner or admin) and returns them.
// Keys this version does not know are preserved.
func (s *Orgs) UpdateSettings(ctx context.Context, c Caller, orgID string, patch SettingsPatch) (*OrgSettings, error) {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner, auth.RoleAdmin); err != nil {
		return nil, err
	}
	var out *OrgSettings
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		raw, err := s.rawSettings(ctx, tx, orgID)
		if err != nil {
			return err
		}
		doc := map[string]json.RawMessage{}
		_ = json.Unmarshal([]byte(raw), &doc) // a corrupt document is replaced
		before := decodeSettings(raw)
		if patch.APIVersion != nil {
			doc["apiVersion"], _ = json.Marshal(*patch.APIVersion)
		}
		if patch.DashboardSSOEnabled != nil {
			doc["dashboardSsoEnabled"], _ = json.Marshal(*patch.DashboardSSOEnabled)
		}
		updated, _ := json.Marshal(doc)
		if _, err := tx.ExecContext(ctx, `UPDATE organizations SET org_settings = ?, updated_at = ? WHERE id = ?`,
			string(updated), isotime.Now(), orgID); err != nil {
			return fmt.Errorf("update settings: %w", err)
		}
		out = decodeSettings(string(updated))
		e := c.auditEvent(orgID, "", "org.settings_updated", "organization", orgID)
		e.Before, e.After = before, out
		audit.Record(ctx, tx, e)
		return nil
	})
	return out, err
}

// APIVersion returns the API version pinned in an organization's settings, or "" (the pipeline's
// httpapi.OrgAPIVersion).
func (s *Orgs) APIVersion(ctx context.Context, orgID string) string {
	raw, err := s.rawSettings(ctx, s.DB, orgID)
	if err != nil {
		return ""
	}
	return decodeSettings(raw).APIVersion
}

func (s *Orgs) rawSettings(ctx context.Context, q store.Querier, orgID string) (string, error) {
	var raw string
	err := q.QueryRowContext(ctx, `SELECT org_settings FROM organizations WHERE id = ?`, orgID).Scan(&raw)
	if err = store.MapNotFound(err); err != nil {
		return "", orgNotFound(err)
	}
	return raw, nil
}

func decodeSettings(raw string) *OrgSettings {
	var st OrgSettings
	_ = json.Unmarshal([]byte(raw), &st) // unknown or mistyped keys are ignored
	return &st
}

// roleIn returns the caller's role in orgID: an API key only reaches its own organization (with its creator's
// role); a user must be a member.
func (s *Orgs) roleIn(ctx context.Context, c Caller, orgID string) (auth.Role, error) {
	if c.IsAPIKey() {
		if orgID != c.OrgID {
			return "", rule(ErrForbidden, "This API key cannot access another organization")
		}
		return c.Role, nil
	}
	if c.OrgPinned && orgID != c.OrgID {
		return "", rule(ErrForbidden, "This credential cannot access another organization")
	}
	role, err := memberRole(ctx, s.DB, orgID, c.UserID)
	if err != nil {
		return "", err
	}
	if role == "" {
		return "", rule(ErrForbidden, "You are not a member of this organization")
	}
	return role, nil
}

// requireUser checks the caller is a user (API keys never hold org:* or members:* permissions) whose role
// in orgID is one of roles.
func (s *Orgs) requireUser(ctx context.Context, c Caller, orgID string, roles ...auth.Role) (auth.Role, error) {
	role, err := s.roleIn(ctx, c, orgID)
	if err != nil {
		return "", err
	}
	if c.IsAPIKey() {
		return "", rule(ErrForbidden, "This operation is not available to API keys")
	}
	if !slices.Contains(roles, role) {
		return "", rule(ErrForbidden, "This operation requires the "+roleList(roles)+" role")
	}
	return role, nil
}

func roleList(roles []auth.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, " or ")
}

func memberRole(ctx context.Context, q store.Querier, orgID, userID string) (auth.Role, error) {
	var role string
	err := q.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&role)
	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("member role: %w", err)
	}
	return auth.Role(role), nil
}

func orgNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return rule(ErrNotFound, "Organization not found")
	}
	return fmt.Errorf("load organization: %w", err)
}

func (s *Orgs) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
