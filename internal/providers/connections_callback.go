package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// CallbackResult is the outcome of GET /api/connections/callback, shown to the user in the popup. Message is
// plain text meant for the user (never a provider's raw answer); the page escapes it.
type CallbackResult struct {
	OK           bool
	ProviderID   string
	ConnectionID string
	Message      string
}

// Callback completes the flow the query names: OAuth 2 (`code` and `state`, or `error`) or OAuth 1.0a
// (`oauth_token` and `oauth_verifier`). It never fails: problems are reported in the result.
func (s *Connections) Callback(ctx context.Context, q url.Values) CallbackResult {
	if q.Get("state") == "" && q.Get("oauth_token") != "" {
		return s.oauth1Callback(ctx, q)
	}
	return s.oauth2Callback(ctx, q)
}

// flowProvider reloads what a callback needs: the provider, the application credential row the flow started
// with (it must still exist and be enabled) and its admin credentials.
func (s *Connections) flowProvider(ctx context.Context, st *oauthState) (*Provider, *appCredential, map[string]string, error) {
	p, err := LoadProvider(ctx, s.DB, st.OrgID, st.ProviderID)
	if err != nil {
		return nil, nil, nil, err
	}
	cred, err := loadAppCredentialByID(ctx, s.DB, st.CredentialID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("credentials of %s: %w", p.ID, err)
	}
	if cred.AppID != st.ApplicationID || cred.ProviderID != p.ID || !cred.Enabled {
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrProviderNotEnabled, p.ID)
	}
	admin, err := decryptMap(s.Keys, cred.Envelope)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, cred, admin, nil
}

// storeFlowConnection saves the connection a flow produced, on the profile and with the credential row the
// flow started with, and records the audit event as the actor who started it.
func (s *Connections) storeFlowConnection(ctx context.Context, st *oauthState, cred *appCredential, creds map[string]string,
	scopes []string, needsReconnection bool, expiresAt isotime.Time) (string, error) {
	var id string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = s.upsertConnection(ctx, tx, storedConnection{ProfileID: st.ProfileID, ProviderID: st.ProviderID,
			OrgID: st.OrgID, CredentialID: cred.ID, Credentials: creds, Scopes: scopes,
			NeedsReconnection: needsReconnection, ExpiresAt: expiresAt})
		if err != nil {
			return err
		}
		a := st.actor()
		a.Audit = audit.Event{IP: st.IP, RequestID: st.RequestID}
		if a.APIKeyID != "" {
			a.Audit.ActorType, a.Audit.ActorID = audit.ActorAPIKey, a.APIKeyID
		}
		s.audit(ctx, tx, a, "connection.created", id, map[string]any{"providerId": st.ProviderID,
			"connectionProfileId": st.ProfileID, "authMode": st.AuthMode, "scopesGranted": scopes})
		return nil
	})
	return id, err
}

// outbound is the HTTP client of token endpoints and OAuth 1.0a endpoints: the outbound policy's transport
// (built once, on first use) and its redirect checks.
func (s *Connections) outbound() *http.Client {
	s.clientOnce.Do(func() {
		s.transport = s.Net.Transport()
		s.client = &http.Client{Transport: s.transport, CheckRedirect: s.Net.CheckRedirect}
	})
	return s.client
}
