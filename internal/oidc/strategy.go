package oidc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/appstrate/appstrate-go/internal/auth"
	"github.com/appstrate/appstrate-go/internal/httpapi"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// invalidToken is the 401 detail of every refused access token.
const invalidToken = "Invalid or expired access token"

// Authenticate is the JWT strategy of the pipeline (API.md §1 step 9a): it claims `Authorization: Bearer ey…`
// only. A valid token of an enabled instance-level client whose CLI family is still live gives an
// oauth2-instance principal (org and application then come from X-Org-Id / X-Application-Id, as for a
// session); anything else is a 401.
func (s *Service) Authenticate(r *http.Request) (*auth.Principal, error) {
	raw := auth.BearerToken(r)
	if !strings.HasPrefix(raw, "ey") {
		return nil, nil
	}
	ctx := r.Context()
	claims, err := s.VerifyAccessToken(ctx, raw)
	if errors.Is(err, ErrInvalidAccessToken) {
		s.log.Debug("oidc: access token refused", "error", err)
		return nil, httpapi.Unauthorized(invalidToken)
	}
	if err != nil {
		s.log.Error("oidc: verify access token", "error", err)
		return nil, httpapi.Internal()
	}
	if err := s.checkTokenContext(ctx, claims, httpapi.ClientIPFrom(ctx)); err != nil {
		if errors.Is(err, ErrInvalidAccessToken) {
			s.log.Debug("oidc: access token refused", "error", err, "familyId", claims.CLIFamilyID)
			return nil, httpapi.Unauthorized(invalidToken)
		}
		s.log.Error("oidc: check access token", "error", err)
		return nil, httpapi.Internal()
	}
	return &auth.Principal{Method: auth.MethodOAuth2Instance, UserID: claims.Subject, Email: claims.Email,
		Name: claims.Name, Realm: auth.RealmPlatform}, nil
}

// checkTokenContext checks what a signature cannot: the client still exists, is enabled and matches the
// actor type; the CLI family is still live (touching its last use at most once a minute).
func (s *Service) checkTokenContext(ctx context.Context, claims *AccessClaims, ip string) error {
	c, err := s.client(ctx, s.db, claims.AuthorizedParty)
	if errors.Is(err, store.ErrNotFound) {
		return errors.Join(ErrInvalidAccessToken, errors.New("unknown client"))
	}
	if err != nil {
		return err
	}
	if c.Disabled {
		return errors.Join(ErrInvalidAccessToken, errors.New("client disabled"))
	}
	if claims.ActorType != c.actorType() || claims.ActorType != ActorTypeUser {
		// dashboard_user and end_user tokens (org and application clients) are not served by this strategy yet.
		return errors.Join(ErrInvalidAccessToken, errors.New("actor type does not match the client"))
	}
	if claims.CLIFamilyID == "" {
		return nil
	}
	return s.checkFamily(ctx, claims.CLIFamilyID, claims.Subject, ip)
}

// checkFamily verifies that the head of a CLI family is live and records its use.
func (s *Service) checkFamily(ctx context.Context, familyID, userID, ip string) error {
	var id, owner string
	var expiresAt, revokedAt, lastUsedAt isotime.Time
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, expires_at, revoked_at, last_used_at FROM cli_refresh_tokens
		WHERE family_id = ? AND used_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`, familyID).
		Scan(&id, &owner, &expiresAt, &revokedAt, &lastUsedAt)
	if isNoRows(err) {
		return errors.Join(ErrInvalidAccessToken, errors.New("unknown CLI session"))
	}
	if err != nil {
		return wrap("read CLI session", err)
	}
	now := s.now()
	switch {
	case owner != userID:
		return errors.Join(ErrInvalidAccessToken, errors.New("CLI session of another user"))
	case !revokedAt.IsZero():
		return errors.Join(ErrInvalidAccessToken, errors.New("CLI session revoked"))
	case !now.Before(expiresAt.Time):
		return errors.Join(ErrInvalidAccessToken, errors.New("CLI session expired"))
	}
	if lastUsedAt.IsZero() || now.Sub(lastUsedAt.Time) >= lastUsedTouchEvery {
		at := isotime.From(now)
		_, err := s.db.ExecContext(ctx, `UPDATE cli_refresh_tokens SET last_used_at = ?, last_used_ip = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, at, nullable(ip), id,
			isotime.From(now.Add(-lastUsedTouchEvery+time.Millisecond)))
		if err != nil {
			s.log.Warn("oidc: touch CLI session", "familyId", familyID, "error", err)
		}
	}
	return nil
}

// CLISession describes the CLI login behind a request the pipeline authenticated with a CLI access token:
// its family id and device name (X-Appstrate-Device-Name), for runs that record their runner (kind `cli`,
// name defaulting to the device name). ok is false when the request carries no CLI-family JWT. Call it only
// after authentication: the token is not verified again here.
func (s *Service) CLISession(r *http.Request) (familyID, deviceName string, ok bool, err error) {
	raw := auth.BearerToken(r)
	if !strings.HasPrefix(raw, "ey") {
		return "", "", false, nil
	}
	claims := &AccessClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil || claims.CLIFamilyID == "" {
		return "", "", false, nil
	}
	var name *string
	err = s.db.QueryRowContext(r.Context(), `SELECT device_name FROM cli_refresh_tokens WHERE family_id = ? AND used_at IS NULL
		ORDER BY created_at DESC, id DESC LIMIT 1`, claims.CLIFamilyID).Scan(&name)
	if isNoRows(err) {
		return claims.CLIFamilyID, "", true, nil
	}
	if err != nil {
		return "", "", false, wrap("read CLI session", err)
	}
	return claims.CLIFamilyID, deref(name), true, nil
}
