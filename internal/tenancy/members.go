package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// AddMemberResult says what POST /api/orgs/{orgId}/members did.
type AddMemberResult struct {
	// Added: an existing user became a member directly (no mail configured).
	Added  bool
	UserID string
	// Invited: an invitation was created (or refreshed) for Email.
	Invited bool
	Email   string
	Role    auth.Role
	// Token is the invitation token, returned when the email has no account yet.
	Token string
}

// AddMember adds a user to an organization or invites them (owner or admin):
//   - an existing user is invited by email when mail is enabled, else added directly;
//   - an unknown email gets an invitation whose token is returned (and mailed when mail is enabled);
//   - an existing member is a conflict (ErrAlreadyMember).
//
// A pending invitation of the same email is refreshed (new token, role and expiry) rather than duplicated.
func (s *Orgs) AddMember(ctx context.Context, c Caller, orgID, email string, role auth.Role) (*AddMemberResult, error) {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner, auth.RoleAdmin); err != nil {
		return nil, err
	}
	if !role.Assignable() {
		return nil, rule(ErrInvalid, "role: must be admin, member or viewer")
	}
	email = normalizeEmail(email)
	if email == "" {
		return nil, rule(ErrInvalid, "email: must not be blank")
	}
	mail := s.MailEnabled && s.SendInvitation != nil
	res := &AddMemberResult{Email: email, Role: role}
	var inv *Invitation
	var orgName string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT name FROM organizations WHERE id = ?`, orgID).Scan(&orgName); err != nil {
			return orgNotFound(store.MapNotFound(err))
		}
		userID, err := userByEmail(ctx, tx, email)
		if err != nil {
			return err
		}
		if userID != "" {
			existing, err := memberRole(ctx, tx, orgID, userID)
			if err != nil {
				return err
			}
			if existing != "" {
				return rule(ErrAlreadyMember, email+" is already a member of this organization")
			}
		}
		if userID != "" && !mail {
			if _, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)`,
				orgID, userID, string(role), isotime.Now()); err != nil {
				return fmt.Errorf("insert member: %w", err)
			}
			e := c.auditEvent(orgID, "", "member.added", "user", userID)
			e.After = map[string]string{"role": string(role)}
			audit.Record(ctx, tx, e)
			res.Added, res.UserID = true, userID
			return nil
		}
		inv, err = upsertInvitation(ctx, tx, orgID, email, role, c.UserID)
		if err != nil {
			return err
		}
		e := c.auditEvent(orgID, "", "invitation.created", "invitation", inv.ID)
		e.After = map[string]string{"email": email, "role": string(role)}
		audit.Record(ctx, tx, e)
		res.Invited = true
		if userID == "" {
			res.Token = inv.Token
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if inv != nil && mail {
		inviter := strings.TrimSpace(c.Name)
		if inviter == "" {
			inviter = c.Email
		}
		if err := s.SendInvitation(ctx, *inv, inviter, orgName); err != nil {
			// The invitation exists; the owner can resend it. The failure is not the caller's fault.
			s.logger().WarnContext(ctx, "invitation email not sent", "invitationId", inv.ID, "orgId", orgID, "error", err)
		}
	}
	return res, nil
}

// ChangeRole changes a member's role (owner only, not their own, to an assignable role).
func (s *Orgs) ChangeRole(ctx context.Context, c Caller, orgID, userID string, role auth.Role) error {
	if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner); err != nil {
		return err
	}
	if userID == c.UserID {
		return rule(ErrForbidden, "You cannot change your own role")
	}
	if !role.Assignable() {
		return rule(ErrInvalid, "role: must be admin, member or viewer")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		current, err := memberRole(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		switch current {
		case "":
			return rule(ErrNotFound, "Member not found")
		case auth.RoleOwner:
			return rule(ErrForbidden, "The owner's role cannot be changed")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE org_members SET role = ? WHERE org_id = ? AND user_id = ?`,
			string(role), orgID, userID); err != nil {
			return fmt.Errorf("update member role: %w", err)
		}
		e := c.auditEvent(orgID, "", "member.role_changed", "user", userID)
		e.Before, e.After = map[string]string{"role": string(current)}, map[string]string{"role": string(role)}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// RemoveMember removes a member (owner or admin; never the owner). Any member but the owner may remove
// themselves (leave the organization).
func (s *Orgs) RemoveMember(ctx context.Context, c Caller, orgID, userID string) error {
	self := userID == c.UserID && !c.IsAPIKey()
	if self {
		role, err := s.roleIn(ctx, c, orgID)
		if err != nil {
			return err
		}
		if role == auth.RoleOwner {
			return rule(ErrForbidden, "The owner cannot leave the organization")
		}
	} else if _, err := s.requireUser(ctx, c, orgID, auth.RoleOwner, auth.RoleAdmin); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		current, err := memberRole(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		switch current {
		case "":
			return rule(ErrNotFound, "Member not found")
		case auth.RoleOwner:
			return rule(ErrForbidden, "The organization owner cannot be removed")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID); err != nil {
			return fmt.Errorf("delete member: %w", err)
		}
		action := "member.removed"
		if self {
			action = "member.left"
		}
		e := c.auditEvent(orgID, "", action, "user", userID)
		e.Before = map[string]string{"role": string(current)}
		audit.Record(ctx, tx, e)
		return nil
	})
}

// userByEmail returns the id of the platform user with email (case-insensitive), or "".
func userByEmail(ctx context.Context, q store.Querier, email string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM users WHERE LOWER(email) = ? ORDER BY created_at LIMIT 1`, email).Scan(&id)
	if err = store.MapNotFound(err); errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("user by email: %w", err)
	}
	return id, nil
}

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
