package oidc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// CLIClientID is the client_id of the built-in public client the CLI uses.
const CLIClientID = "appstrate-cli"

// The grant types of the device flow.
const (
	GrantDeviceCode   = "urn:ietf:params:oauth:grant-type:device_code"
	GrantRefreshToken = "refresh_token"
)

// Client levels: who the tokens of a client act for.
const (
	LevelInstance    = "instance"
	LevelOrg         = "org"
	LevelApplication = "application"
)

// cliScopes are the scopes of appstrate-cli.
var cliScopes = []string{"openid", "profile", "email", "offline_access"}

// Client is a row of oauth_clients (the fields this package reads).
type Client struct {
	ID         string
	ClientID   string
	Name       string
	Disabled   bool
	Public     bool
	GrantTypes []string
	Scopes     []string
	Level      string
}

// AllowsGrant reports whether the client may use grant.
func (c *Client) AllowsGrant(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// actorType is the actor_type of the client's access tokens.
func (c *Client) actorType() string {
	switch c.Level {
	case LevelOrg:
		return ActorTypeDashboard
	case LevelApplication:
		return ActorTypeEndUser
	}
	return ActorTypeUser
}

// grantScopes intersects the requested scopes (space-separated; empty = all of the client's) with the client's
// scopes, in the client's order.
func (c *Client) grantScopes(requested string) string {
	req := strings.Fields(requested)
	var out []string
	for _, sc := range c.Scopes {
		if len(req) == 0 || slices.Contains(req, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " ")
}

// ensureCLIClient creates appstrate-cli when it does not exist. An existing row is left alone (an operator
// may have disabled it).
func (s *Service) ensureCLIClient(ctx context.Context) error {
	grants, _ := json.Marshal([]string{GrantDeviceCode, GrantRefreshToken})
	scopes, _ := json.Marshal(cliScopes)
	now := isotime.From(s.now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO oauth_clients (id, client_id, client_secret, name, disabled, public,
		require_pkce, redirect_uris, grant_types, scopes, level, created_at, updated_at)
		VALUES (?, ?, NULL, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?)
		ON CONFLICT (client_id) DO NOTHING`,
		ids.New(ids.OAuthClient), CLIClientID, "Appstrate CLI", false, true, false, string(grants), string(scopes),
		LevelInstance, now, now)
	if err != nil {
		return wrap("create the appstrate-cli client", err)
	}
	return nil
}

// client reads a client by client_id: ErrNotFound-wrapped store error when unknown.
func (s *Service) client(ctx context.Context, q store.Querier, clientID string) (*Client, error) {
	c := &Client{}
	var grants, scopes string
	err := q.QueryRowContext(ctx, `SELECT id, client_id, name, disabled, public, grant_types, scopes, level
		FROM oauth_clients WHERE client_id = ?`, clientID).
		Scan(&c.ID, &c.ClientID, &c.Name, &c.Disabled, &c.Public, &grants, &scopes, &c.Level)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap("read client", err)
	}
	if err := json.Unmarshal([]byte(grants), &c.GrantTypes); err != nil {
		return nil, wrap("decode client grant types", err)
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, wrap("decode client scopes", err)
	}
	return c, nil
}

// publicClient returns the enabled public client clientID allowed to use grant, or an invalid_client
// (unauthorized_client when the grant is not allowed) error.
func (s *Service) publicClient(ctx context.Context, clientID, grant string) (*Client, error) {
	if clientID == "" || len(clientID) > maxTokenInput {
		return nil, oauthError(CodeInvalidClient, "Unknown client.")
	}
	c, err := s.client(ctx, s.db, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauthError(CodeInvalidClient, "Unknown client.")
	}
	if err != nil {
		return nil, err
	}
	if c.Disabled {
		return nil, oauthError(CodeInvalidClient, "Client is disabled.")
	}
	if !c.Public {
		return nil, oauthError(CodeInvalidClient, "Client authentication is not supported on this endpoint.")
	}
	if grant != "" && !c.AllowsGrant(grant) {
		return nil, oauthError(CodeUnauthorizedClient, fmt.Sprintf("Client is not allowed to use the %s grant.", grant))
	}
	return c, nil
}
