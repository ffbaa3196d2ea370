package tenancy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/store"
)

// Resolver answers the pipeline's membership questions (httpapi.TenancyResolver) from the database.
type Resolver struct{ DB store.Querier }

// MemberRole returns userID's role in orgID, or "" when not a member.
func (r Resolver) MemberRole(ctx context.Context, orgID, userID string) (auth.Role, error) {
	var role string
	err := r.DB.QueryRowContext(ctx, `SELECT role FROM org_members WHERE org_id = ? AND user_id = ?`, orgID, userID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("member role of %s in %s: %w", userID, orgID, err)
	}
	return auth.Role(role), nil
}

// ApplicationOrg returns the organization of appID, or "" when there is no such application.
func (r Resolver) ApplicationOrg(ctx context.Context, appID string) (string, error) {
	return r.single(ctx, `SELECT org_id FROM applications WHERE id = ?`, appID)
}

// EndUserApplication returns the application of endUserID, or "" when there is no such end-user.
func (r Resolver) EndUserApplication(ctx context.Context, endUserID string) (string, error) {
	return r.single(ctx, `SELECT application_id FROM end_users WHERE id = ?`, endUserID)
}

func (r Resolver) single(ctx context.Context, query, arg string) (string, error) {
	var v string
	err := r.DB.QueryRowContext(ctx, query, arg).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", arg, err)
	}
	return v, nil
}
