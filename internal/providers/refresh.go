package providers

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/appstrate/appstrate-go/internal/afps"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// Usable is a connection ready to be injected into a request: the provider's rules and the decrypted
// credentials (for OAuth 2 including the refresh token: credentials.Materialize drops it before anything
// leaves the platform).
type Usable struct {
	Provider     *Provider
	ConnectionID string
	ProfileID    string
	Credentials  map[string]string
	ExpiresAt    isotime.Time
}

// Credentials returns the connection of profileID for providerID made with appID's credentials, decrypted
// (PACKAGES.md §4.7 item 5). An OAuth 2 access token that expires within RefreshSkew is refreshed first.
// Errors: ErrProviderNotFound, ErrProviderNotEnabled, ErrConnectionNotFound, ErrNeedsReconnection (the
// connection was revoked or lacks granted scopes), ErrRefreshFailed (transient; the connection is untouched).
func (s *Connections) Credentials(ctx context.Context, orgID, appID, profileID, providerID string) (*Usable, error) {
	p, err := LoadProvider(ctx, s.DB, orgID, providerID)
	if err != nil {
		return nil, err
	}
	cred, err := enabledCredential(ctx, s.DB, appID, providerID)
	if err != nil {
		return nil, err
	}
	row, err := findConnection(ctx, s.DB, profileID, providerID, orgID, cred.ID)
	if err != nil {
		return nil, err
	}
	if row.NeedsReconnection {
		return nil, fmt.Errorf("%w: %s", ErrNeedsReconnection, providerID)
	}
	creds, err := decryptMap(s.Keys, sqlString(row.Envelope))
	if err != nil {
		return nil, err
	}
	if p.AuthMode() == afps.AuthOAuth2 && creds["refresh_token"] != "" && s.expiring(row) {
		return s.refresh(ctx, p, row.ID, creds["access_token"], false)
	}
	return &Usable{Provider: p, ConnectionID: row.ID, ProfileID: row.ProfileID, Credentials: creds, ExpiresAt: row.ExpiresAt}, nil
}

// Refresh is called after the provider answered 401 to a request made with u: it refreshes the OAuth 2
// access token (once for every concurrent caller: when another caller already replaced the token u used,
// that token is returned). Connections of other modes, and OAuth 2 connections without a refresh token, are
// re-read. A refresh refused with invalid_grant marks the connection needs_reconnection
// (ErrNeedsReconnection); other failures are ErrRefreshFailed and leave it untouched.
func (s *Connections) Refresh(ctx context.Context, u *Usable) (*Usable, error) {
	return s.refresh(ctx, u.Provider, u.ConnectionID, u.Credentials["access_token"], true)
}

// expiring reports whether an access token expires within RefreshSkew (unknown expiry: no).
func (s *Connections) expiring(row *connectionRow) bool {
	return !row.ExpiresAt.IsZero() && row.ExpiresAt.Before(s.now().Add(s.refreshSkew()))
}

// refresh coalesces refreshes per connection in this process (singleflight) and across processes with
// compare-and-swap writes on the stored envelope: a process whose write loses re-reads the winner's token,
// and an invalid_grant caused by a concurrent rotation is recognised by re-reading before marking the
// connection.
func (s *Connections) refresh(ctx context.Context, p *Provider, connID, used string, force bool) (*Usable, error) {
	key := "skew:" + connID
	if force {
		key = "force:" + connID
	}
	v, err, _ := s.refreshes.Do(key, func() (any, error) {
		// Shared by every waiter: the first caller's cancellation must not fail the others.
		return s.refreshOnce(context.WithoutCancel(ctx), p, connID, used, force)
	})
	if err != nil {
		return nil, err
	}
	u := v.(*Usable)
	return &Usable{Provider: u.Provider, ConnectionID: u.ConnectionID, ProfileID: u.ProfileID,
		Credentials: maps.Clone(u.Credentials), ExpiresAt: u.ExpiresAt}, nil
}

func (s *Connections) refreshOnce(ctx context.Context, p *Provider, connID, used string, force bool) (*Usable, error) {
	row, creds, err := s.readConnection(ctx, connID)
	if err != nil {
		return nil, err
	}
	current := &Usable{Provider: p, ConnectionID: row.ID, ProfileID: row.ProfileID, Credentials: creds, ExpiresAt: row.ExpiresAt}
	if row.NeedsReconnection {
		return nil, fmt.Errorf("%w: %s", ErrNeedsReconnection, p.ID)
	}
	switch {
	case p.AuthMode() != afps.AuthOAuth2 || creds["refresh_token"] == "":
		return current, nil // nothing to refresh: re-read
	case used != "" && creds["access_token"] != used:
		return current, nil // another caller already refreshed
	case !force && !s.expiring(row):
		return current, nil
	}
	o := p.Def().OAuth2
	if o == nil {
		return nil, fmt.Errorf("%w: %s has no oauth2 definition", ErrRefreshFailed, p.ID)
	}
	cred, err := loadAppCredentialByID(ctx, s.DB, row.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials of %s: %v", ErrRefreshFailed, p.ID, err)
	}
	admin, err := decryptMap(s.Keys, cred.Envelope)
	if err != nil {
		return nil, err
	}
	clientID, clientSecret, err := oauth2Client(p, admin)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefreshFailed, err)
	}
	tok, err := s.tokenRequest(ctx, o.RefreshEndpoint(), o, clientID, clientSecret,
		[][2]string{{"grant_type", "refresh_token"}, {"refresh_token", creds["refresh_token"]}})
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.Revoked() {
			return s.markRevoked(ctx, p, row)
		}
		s.Logger.WarnContext(ctx, "token refresh failed", "providerId", p.ID, "connectionId", row.ID, "error", err)
		return nil, fmt.Errorf("%w: %s: %v", ErrRefreshFailed, p.ID, err)
	}
	next := maps.Clone(creds)
	next["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		next["refresh_token"] = tok.RefreshToken
	}
	env, err := encryptMap(s.Keys, next)
	if err != nil {
		return nil, err
	}
	now := s.now()
	expires := tok.expiresAt(now)
	res, err := s.DB.ExecContext(ctx, `UPDATE user_provider_connections SET credentials_encrypted = ?, expires_at = ?,
		needs_reconnection = ?, updated_at = ? WHERE id = ? AND credentials_encrypted = ?`,
		env, expires, false, isotime.From(now), row.ID, row.Envelope)
	if err != nil {
		return nil, fmt.Errorf("store refreshed token of %s: %w", row.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Another process wrote first (a concurrent refresh or a reconnection): use what it stored.
		row, creds, err = s.readConnection(ctx, connID)
		if err != nil {
			return nil, err
		}
		return &Usable{Provider: p, ConnectionID: row.ID, ProfileID: row.ProfileID, Credentials: creds, ExpiresAt: row.ExpiresAt}, nil
	}
	s.Logger.InfoContext(ctx, "token refreshed", "providerId", p.ID, "connectionId", row.ID)
	return &Usable{Provider: p, ConnectionID: row.ID, ProfileID: row.ProfileID, Credentials: next, ExpiresAt: expires}, nil
}

// markRevoked flags a connection whose refresh token was refused, unless its credentials changed meanwhile
// (a concurrent refresh rotated the token we sent), in which case the new ones are returned.
func (s *Connections) markRevoked(ctx context.Context, p *Provider, row *connectionRow) (*Usable, error) {
	res, err := s.DB.ExecContext(ctx, `UPDATE user_provider_connections SET needs_reconnection = ?, updated_at = ?
		WHERE id = ? AND credentials_encrypted = ?`, true, isotime.From(s.now()), row.ID, row.Envelope)
	if err != nil {
		return nil, fmt.Errorf("mark connection %s: %w", row.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		fresh, creds, err := s.readConnection(ctx, row.ID)
		if err != nil {
			return nil, err
		}
		if !fresh.NeedsReconnection {
			return &Usable{Provider: p, ConnectionID: fresh.ID, ProfileID: fresh.ProfileID, Credentials: creds, ExpiresAt: fresh.ExpiresAt}, nil
		}
	}
	s.Logger.WarnContext(ctx, "token refresh refused (invalid_grant): connection needs reconnection", "providerId", p.ID,
		"connectionId", row.ID)
	return nil, fmt.Errorf("%w: %s credential revoked", ErrNeedsReconnection, p.ID)
}

// readConnection loads and decrypts a connection.
func (s *Connections) readConnection(ctx context.Context, id string) (*connectionRow, map[string]string, error) {
	row, err := getConnection(ctx, s.DB, id)
	if err != nil {
		return nil, nil, err
	}
	creds, err := decryptMap(s.Keys, sqlString(row.Envelope))
	if err != nil {
		return nil, nil, err
	}
	return row, creds, nil
}
