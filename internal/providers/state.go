package providers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// ErrStateNotFound means an OAuth callback names no pending flow: unknown, already used, or expired.
var ErrStateNotFound = errors.New("OAuth state not found or expired")

// Lookup-key prefixes of oauth_states (upstream cache keys oauth-state:<state>). OAuth 1.0a flows are found
// by their request token, which the callback carries instead of a state.
const (
	stateKeyOAuth2 = "oauth-state:"
	stateKeyOAuth1 = "oauth1-token:"
)

// oauthState is a pending connection flow, stored encrypted (it holds the PKCE verifier or the OAuth 1.0a
// request token secret) in oauth_states for StateTTL, and consumed once by the callback.
type oauthState struct {
	State           string       `json:"state"`
	AuthMode        string       `json:"authMode"`
	OrgID           string       `json:"orgId"`
	ApplicationID   string       `json:"applicationId"`
	UserID          string       `json:"userId,omitempty"`
	EndUserID       string       `json:"endUserId,omitempty"`
	APIKeyID        string       `json:"apiKeyId,omitempty"`
	ProfileID       string       `json:"connectionProfileId"`
	ProviderID      string       `json:"providerId"`
	CredentialID    string       `json:"providerCredentialId"`
	CodeVerifier    string       `json:"codeVerifier,omitempty"`
	ScopesRequested []string     `json:"scopesRequested"`
	RedirectURI     string       `json:"redirectUri"`
	RequestToken    string       `json:"requestToken,omitempty"`
	TokenSecret     string       `json:"tokenSecret,omitempty"`
	IP              string       `json:"ip,omitempty"`
	RequestID       string       `json:"requestId,omitempty"`
	CreatedAt       isotime.Time `json:"createdAt"`
	ExpiresAt       isotime.Time `json:"expiresAt"`
}

// actor rebuilds who started the flow.
func (st *oauthState) actor() ConnectionActor {
	return ConnectionActor{OrgID: st.OrgID, AppID: st.ApplicationID, UserID: st.UserID, EndUserID: st.EndUserID,
		APIKeyID: st.APIKeyID}
}

// saveState stores a pending flow under key and sweeps expired flows.
func (s *Connections) saveState(ctx context.Context, key string, st *oauthState) error {
	if s.Keys == nil {
		return ErrEncryptionUnavailable
	}
	env, err := s.Keys.EncryptJSON(st)
	if err != nil {
		return fmt.Errorf("encrypt OAuth state: %w", err)
	}
	now := isotime.From(s.now())
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < ?`, now); err != nil {
		s.Logger.WarnContext(ctx, "oauth states: sweep failed", "error", err)
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO oauth_states (lookup_key, payload_encrypted, created_at, expires_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (lookup_key) DO UPDATE SET payload_encrypted = excluded.payload_encrypted,
		created_at = excluded.created_at, expires_at = excluded.expires_at`, key, env, now, st.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store OAuth state: %w", err)
	}
	return nil
}

// takeState removes and returns the pending flow under key: one-shot, so two callbacks never both use it.
// Expired or unknown keys are ErrStateNotFound.
func (s *Connections) takeState(ctx context.Context, key string) (*oauthState, error) {
	var env string
	var expires isotime.Time
	err := s.DB.QueryRowContext(ctx, `DELETE FROM oauth_states WHERE lookup_key = ? RETURNING payload_encrypted, expires_at`, key).
		Scan(&env, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrStateNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("take OAuth state: %w", err)
	}
	if !expires.After(s.now()) {
		return nil, ErrStateNotFound
	}
	if s.Keys == nil {
		return nil, ErrEncryptionUnavailable
	}
	var st oauthState
	if err := s.Keys.DecryptJSON(env, &st); err != nil {
		return nil, fmt.Errorf("decrypt OAuth state: %w", err)
	}
	return &st, nil
}

// restoreState puts a flow back after a transient failure of its callback, so the user can retry until it
// expires.
func (s *Connections) restoreState(ctx context.Context, key string, st *oauthState) {
	if !st.ExpiresAt.After(s.now()) {
		return
	}
	if err := s.saveState(ctx, key, st); err != nil {
		s.Logger.WarnContext(ctx, "oauth state not restored", "error", err)
	}
}

// SweepStates deletes expired pending flows (saveState also does, on every start).
func (s *Connections) SweepStates(ctx context.Context) (int64, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < ?`, isotime.From(s.now()))
	if err != nil {
		return 0, fmt.Errorf("sweep OAuth states: %w", err)
	}
	return res.RowsAffected()
}

// newState fills the common part of a pending flow.
func (s *Connections) newState(a ConnectionActor, p *Provider, cred *appCredential, profileID string) *oauthState {
	now := s.now()
	return &oauthState{AuthMode: p.AuthMode(), OrgID: a.OrgID, ApplicationID: a.AppID, UserID: a.UserID,
		EndUserID: a.EndUserID, APIKeyID: a.APIKeyID, ProfileID: profileID, ProviderID: p.ID, CredentialID: cred.ID,
		RedirectURI: s.Providers.CallbackURL(), ScopesRequested: []string{}, IP: a.Audit.IP, RequestID: a.Audit.RequestID,
		CreatedAt: isotime.From(now), ExpiresAt: isotime.From(now.Add(s.stateTTL()))}
}
