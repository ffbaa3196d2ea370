package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// InvitationTTL is how long an invitation stays valid.
const InvitationTTL = 7 * 24 * time.Hour

// InvitationTokenLength is the length of an invitation token: 64 lowercase hex characters.
const InvitationTokenLength = 64

// Invitation statuses (org_invitations.status).
const (
	InvitationPending   = "pending"
	InvitationAccepted  = "accepted"
	InvitationExpired   = "expired"
	InvitationCancelled = "cancelled"
)

// ErrPasswordRequired means a new user accepted an invitation without choosing a password.
var ErrPasswordRequired = errors.New("password required")

// Invitation is one row of org_invitations.
type Invitation struct {
	ID        string
	Token     string
	Email     string
	OrgID     string
	Role      auth.Role
	Status    string
	InvitedBy string
	ExpiresAt isotime.Time
	CreatedAt isotime.Time
}

// NewInvitationToken returns a fresh token: two random UUIDs without their dashes (64 hex characters).
func NewInvitationToken() string {
	return strings.ReplaceAll(ids.UUID()+ids.UUID(), "-", "")
}

// ValidInvitationToken reports whether s has the shape of an invitation token (64 lowercase hex
// characters), so malformed tokens are refused without a database lookup.
func ValidInvitationToken(s string) bool {
	if len(s) != InvitationTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// upsertInvitation creates the pending invitation of email in orgID, or refreshes the pending one (new token,
// role, inviter and expiry) so an email has at most one usable invitation per organization.
func upsertInvitation(ctx context.Context, q store.Querier, orgID, email string, role auth.Role, invitedBy string) (*Invitation, error) {
	now := isotime.Now()
	inv := &Invitation{Token: NewInvitationToken(), Email: email, OrgID: orgID, Role: role, Status: InvitationPending,
		InvitedBy: invitedBy, ExpiresAt: isotime.From(now.Add(InvitationTTL)), CreatedAt: now}
	err := q.QueryRowContext(ctx, `SELECT id, created_at FROM org_invitations
		WHERE org_id = ? AND email = ? AND status = 'pending' ORDER BY created_at DESC LIMIT 1`, orgID, email).
		Scan(&inv.ID, &inv.CreatedAt)
	switch err = store.MapNotFound(err); {
	case errors.Is(err, store.ErrNotFound):
		inv.ID, inv.CreatedAt = ids.UUID(), now
		_, err = q.ExecContext(ctx, `INSERT INTO org_invitations (id, token, email, org_id, role, status, invited_by, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`, inv.ID, inv.Token, email, orgID, string(role), nullable(invitedBy), inv.ExpiresAt, now)
	case err == nil:
		_, err = q.ExecContext(ctx, `UPDATE org_invitations SET token = ?, role = ?, invited_by = ?, expires_at = ? WHERE id = ?`,
			inv.Token, string(role), nullable(invitedBy), inv.ExpiresAt, inv.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("save invitation: %w", err)
	}
	return inv, nil
}

// ChangeInvitationRole changes the role a pending invitation grants (owner only).
func (s *Orgs) ChangeInvitationRole(ctx context.Context, c Caller, orgID, invitationID string, role auth.Role) error {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner); err != nil {
		return err
	}
	if !role.Assignable() {
		return rule(ErrInvalid, "role: must be admin, member or viewer")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		inv, err := invitationInOrg(ctx, tx, orgID, invitationID)
		if err != nil {
			return err
		}
		if err := usable(inv); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_invitations SET role = ? WHERE id = ?`, string(role), inv.ID); err != nil {
			return fmt.Errorf("update invitation role: %w", err)
		}
		e := c.auditEvent(orgID, "", "invitation.role_changed", "invitation", inv.ID)
		e.Before, e.After = map[string]string{"role": string(inv.Role)}, map[string]string{"role": string(role)}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// CancelInvitation cancels a pending invitation (owner or admin). Pending invitations past their expiry may
// be cancelled too; accepted or already cancelled ones may not.
func (s *Orgs) CancelInvitation(ctx context.Context, c Caller, orgID, invitationID string) error {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner, auth.RoleAdmin); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		inv, err := invitationInOrg(ctx, tx, orgID, invitationID)
		if err != nil {
			return err
		}
		if err := usable(inv); err != nil && !errors.Is(err, ErrInvitationExpired) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_invitations SET status = 'cancelled' WHERE id = ?`, inv.ID); err != nil {
			return fmt.Errorf("cancel invitation: %w", err)
		}
		e := c.auditEvent(orgID, "", "invitation.cancelled", "invitation", inv.ID)
		e.Before = map[string]string{"email": inv.Email, "role": string(inv.Role)}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// InvitationInfo is what the public invitation page shows.
type InvitationInfo struct {
	Email       string       `json:"email"`
	OrgName     string       `json:"orgName"`
	Role        string       `json:"role" enum:"admin,member,viewer"`
	InviterName *string      `json:"inviterName" doc:"Display name of the inviter; null when unknown"`
	ExpiresAt   isotime.Time `json:"expiresAt"`
	IsNewUser   bool         `json:"isNewUser" doc:"No account exists yet for the invited email"`
}

// InvitationInfo describes the usable invitation behind token.
func (s *Orgs) InvitationInfo(ctx context.Context, token string) (*InvitationInfo, error) {
	inv, err := invitationByToken(ctx, s.DB, token)
	if err != nil {
		return nil, err
	}
	if err := usable(inv); err != nil {
		return nil, err
	}
	info := &InvitationInfo{Email: inv.Email, Role: string(inv.Role), ExpiresAt: inv.ExpiresAt}
	if err := s.DB.QueryRowContext(ctx, `SELECT name FROM organizations WHERE id = ?`, inv.OrgID).Scan(&info.OrgName); err != nil {
		return nil, orgNotFound(store.MapNotFound(err))
	}
	if inv.InvitedBy != "" {
		var display, name *string
		err := s.DB.QueryRowContext(ctx, `SELECT p.display_name, u.name FROM users u LEFT JOIN profiles p ON p.id = u.id
			WHERE u.id = ?`, inv.InvitedBy).Scan(&display, &name)
		if err = store.MapNotFound(err); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("inviter: %w", err)
		}
		for _, n := range []*string{name, display} {
			if n != nil && strings.TrimSpace(*n) != "" {
				info.InviterName = n
				break
			}
		}
	}
	userID, err := userByEmail(ctx, s.DB, inv.Email)
	if err != nil {
		return nil, err
	}
	info.IsNewUser = userID == ""
	return info, nil
}

// CreateUserFunc creates the account of a user accepting an invitation, inside the caller's transaction, and
// returns its id. The invitation proves the email address, so the account starts verified and bypasses the
// signup policy.
type CreateUserFunc func(ctx context.Context, q store.Querier, email, password, name string) (userID string, err error)

// AcceptInput is one acceptance of an invitation.
type AcceptInput struct {
	Token string
	// SessionUserID and SessionEmail identify the signed-in user, if any.
	SessionUserID string
	SessionEmail  string
	// Password and DisplayName create the account of a new user.
	Password    string
	DisplayName string
	CreateUser  CreateUserFunc
}

// AcceptResult says what an acceptance did.
type AcceptResult struct {
	OrgID         string
	IsNewUser     bool
	RequiresLogin bool   // an existing user must sign in (as the invited email) and accept again
	UserID        string // the member created or joined; "" when RequiresLogin
}

// AcceptInvitation accepts the invitation behind in.Token:
//   - no account has the invited email: the account is created with in.Password (ErrPasswordRequired when
//     empty), joins the organization and the invitation is accepted, all in one transaction;
//   - an account exists and the signed-in user has the invited email: it joins and the invitation is accepted;
//   - an account exists and nobody is signed in: nothing changes, RequiresLogin is set;
//   - an account exists and another user is signed in: ErrEmailMismatch.
func (s *Orgs) AcceptInvitation(ctx context.Context, in AcceptInput) (*AcceptResult, error) {
	inv, err := invitationByToken(ctx, s.DB, in.Token)
	if err != nil {
		return nil, err
	}
	if err := usable(inv); err != nil {
		return nil, err
	}
	existing, err := userByEmail(ctx, s.DB, inv.Email)
	if err != nil {
		return nil, err
	}
	res := &AcceptResult{OrgID: inv.OrgID, IsNewUser: existing == ""}
	if existing != "" {
		switch {
		case in.SessionUserID == "":
			res.RequiresLogin = true
			return res, nil
		case in.SessionUserID != existing || normalizeEmail(in.SessionEmail) != inv.Email:
			return nil, rule(ErrEmailMismatch, "This invitation was sent to another email address")
		}
	} else {
		if in.Password == "" {
			return nil, ErrPasswordRequired
		}
		if in.CreateUser == nil {
			return nil, errors.New("accept invitation: no account creation configured")
		}
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		userID := existing
		if userID == "" {
			name := strings.TrimSpace(in.DisplayName)
			if name == "" {
				name, _, _ = strings.Cut(inv.Email, "@")
			}
			id, err := in.CreateUser(ctx, tx, inv.Email, in.Password, name)
			if err != nil {
				return fmt.Errorf("create invited user: %w", err)
			}
			userID = id
		}
		now := isotime.Now()
		r, err := tx.ExecContext(ctx, `UPDATE org_invitations SET status = 'accepted', accepted_by = ?, accepted_at = ?
			WHERE id = ? AND status = 'pending'`, userID, now, inv.ID)
		if err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if n, err := r.RowsAffected(); err == nil && n != 1 {
			return rule(ErrInvitationAccepted, "This invitation has already been used")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id, user_id) DO NOTHING`, inv.OrgID, userID, string(inv.Role), now); err != nil {
			return fmt.Errorf("join organization: %w", err)
		}
		e := audit.Event{OrgID: inv.OrgID, ActorType: audit.ActorUser, ActorID: userID, Action: "invitation.accepted",
			ResourceType: "invitation", ResourceID: inv.ID, After: map[string]string{"role": string(inv.Role)}}
		audit.Record(ctx, tx, e)
		res.UserID = userID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// HasPendingInvitation reports whether email has a usable invitation to some organization (the signup
// policy lets such emails register even when signups are closed).
func (s *Orgs) HasPendingInvitation(ctx context.Context, email string) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM org_invitations WHERE email = ? AND status = 'pending' AND expires_at > ?`,
		normalizeEmail(email), isotime.Now()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("pending invitations of %s: %w", email, err)
	}
	return n > 0, nil
}

// usable returns the typed error of an invitation that can no longer be used.
func usable(inv *Invitation) error {
	switch {
	case inv.Status == InvitationAccepted:
		return rule(ErrInvitationAccepted, "This invitation has already been accepted")
	case inv.Status == InvitationCancelled:
		return rule(ErrInvitationCancelled, "This invitation has been cancelled")
	case inv.Status == InvitationExpired || !inv.ExpiresAt.After(time.Now()):
		return rule(ErrInvitationExpired, "This invitation has expired")
	}
	return nil
}

const invitationColumns = `id, token, email, org_id, role, status, invited_by, expires_at, created_at`

func scanInvitation(row interface{ Scan(...any) error }) (*Invitation, error) {
	var inv Invitation
	var role string
	var invitedBy *string
	if err := row.Scan(&inv.ID, &inv.Token, &inv.Email, &inv.OrgID, &role, &inv.Status, &invitedBy, &inv.ExpiresAt, &inv.CreatedAt); err != nil {
		return nil, store.MapNotFound(err)
	}
	inv.Role = auth.Role(role)
	if invitedBy != nil {
		inv.InvitedBy = *invitedBy
	}
	return &inv, nil
}

func invitationByToken(ctx context.Context, q store.Querier, token string) (*Invitation, error) {
	if !ValidInvitationToken(token) {
		return nil, rule(ErrInvitationNotFound, "Invitation not found")
	}
	inv, err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM org_invitations WHERE token = ?`, token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, rule(ErrInvitationNotFound, "Invitation not found")
	}
	if err != nil {
		return nil, fmt.Errorf("invitation by token: %w", err)
	}
	return inv, nil
}

func invitationInOrg(ctx context.Context, q store.Querier, orgID, id string) (*Invitation, error) {
	inv, err := scanInvitation(q.QueryRowContext(ctx, `SELECT `+invitationColumns+` FROM org_invitations WHERE id = ? AND org_id = ?`, id, orgID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, rule(ErrNotFound, "Invitation not found")
	}
	if err != nil {
		return nil, fmt.Errorf("invitation %s: %w", id, err)
	}
	return inv, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
