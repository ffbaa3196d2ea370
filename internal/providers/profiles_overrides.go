package providers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/appstrate/appstrate-go/internal/audit"
	"github.com/appstrate/appstrate-go/internal/ids"
	"github.com/appstrate/appstrate-go/internal/store"
	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

// ErrProviderNotDeclared means the agent does not declare the provider (dependencies.providers).
var ErrProviderNotDeclared = errors.New("the agent does not declare this provider")

// AgentOverrides owns the actors' per-agent provider → profile overrides (user_agent_provider_profiles;
// GET|PUT|DELETE /api/agents/{scope}/{name}/provider-profiles). Overrides belong to the actor and the agent,
// not to an application: one naming an application profile only applies in that profile's application.
type AgentOverrides struct{ DB *store.DB }

// AgentOverride is one override.
type AgentOverride struct {
	ProviderID          string
	ConnectionProfileID string
}

// pfRequireAgent checks that agentID is an agent visible in appID of orgID (a system agent, or installed
// there) and returns its draft manifest; else ErrUnknownAgent.
func pfRequireAgent(ctx context.Context, q store.Querier, orgID, appID, agentID string) ([]byte, error) {
	var manifest []byte
	err := q.QueryRowContext(ctx, `SELECT p.draft_manifest FROM packages p WHERE p.id = ? AND p.type = 'agent' AND p.ephemeral = ?
		AND (p.source = 'system' OR (p.org_id = ? AND EXISTS (
			SELECT 1 FROM application_packages a WHERE a.application_id = ? AND a.package_id = p.id)))`,
		agentID, false, orgID, appID).Scan(&manifest)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownAgent
	}
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", agentID, err)
	}
	return manifest, nil
}

// pfUsableProfile checks that profileID is the actor's own profile or an application profile of appID.
func pfUsableProfile(ctx context.Context, q store.Querier, a Actor, appID, profileID string) error {
	if !ids.ValidUUID(profileID) {
		return ErrProfileNotFound
	}
	col, owner := a.ownerColumn()
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM connection_profiles WHERE id = ? AND (`+col+` = ? OR application_id = ?)`,
		profileID, owner, appID).Scan(&one)
	if err != nil {
		return pfProfileErr(err)
	}
	return nil
}

// List returns the actor's overrides for agentID that apply in appID (providerId → profileId).
func (s AgentOverrides) List(ctx context.Context, orgID, appID string, a Actor, agentID string) (map[string]string, error) {
	if _, err := pfRequireAgent(ctx, s.DB, orgID, appID, agentID); err != nil {
		return nil, err
	}
	col, owner := a.ownerColumn()
	rows, err := s.DB.QueryContext(ctx, `SELECT o.provider_id, o.profile_id FROM user_agent_provider_profiles o
		JOIN connection_profiles p ON p.id = o.profile_id
		WHERE o.`+col+` = ? AND o.package_id = ? AND (p.application_id IS NULL OR p.application_id = ?)
		ORDER BY o.provider_id`, owner, agentID, appID)
	if err != nil {
		return nil, fmt.Errorf("overrides of %s: %w", agentID, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var provider, profile string
		if err := rows.Scan(&provider, &profile); err != nil {
			return nil, fmt.Errorf("scan override: %w", err)
		}
		out[provider] = profile
	}
	return out, pfWrap(rows.Err(), "overrides of %s", agentID)
}

// Set makes runs of agentID by the actor use profileID for providerID. The agent must declare the provider
// (ErrProviderNotDeclared) and the profile must be the actor's own or an application profile of appID
// (ErrProfileNotFound).
func (s AgentOverrides) Set(ctx context.Context, orgID, appID string, a Actor, agentID string, o AgentOverride, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		manifest, err := pfRequireAgent(ctx, tx, orgID, appID, agentID)
		if err != nil {
			return err
		}
		if !pfDeclares(manifest, o.ProviderID) {
			return ErrProviderNotDeclared
		}
		if err := pfUsableProfile(ctx, tx, a, appID, o.ConnectionProfileID); err != nil {
			return err
		}
		col, owner := a.ownerColumn()
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_agent_provider_profiles WHERE `+col+` = ? AND package_id = ? AND provider_id = ?`,
			owner, agentID, o.ProviderID); err != nil {
			return fmt.Errorf("replace override: %w", err)
		}
		now := isotime.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_agent_provider_profiles (`+col+`, package_id, provider_id, profile_id,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`, owner, agentID, o.ProviderID, o.ConnectionProfileID, now, now); err != nil {
			return fmt.Errorf("set override: %w", err)
		}
		ev.Action, ev.ResourceType, ev.ResourceID = "agent.provider_profile_set", "agent", agentID
		ev.After = map[string]any{"providerId": o.ProviderID, "connectionProfileId": o.ConnectionProfileID}
		audit.Record(ctx, tx, ev)
		return nil
	})
}

// Delete removes the actor's override of providerID for agentID (no error when there is none).
func (s AgentOverrides) Delete(ctx context.Context, orgID, appID string, a Actor, agentID, providerID string, ev audit.Event) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := pfRequireAgent(ctx, tx, orgID, appID, agentID); err != nil {
			return err
		}
		col, owner := a.ownerColumn()
		res, err := tx.ExecContext(ctx, `DELETE FROM user_agent_provider_profiles WHERE `+col+` = ? AND package_id = ? AND provider_id = ?`,
			owner, agentID, providerID)
		if err != nil {
			return fmt.Errorf("delete override: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ev.Action, ev.ResourceType, ev.ResourceID = "agent.provider_profile_deleted", "agent", agentID
			ev.Before = map[string]any{"providerId": providerID}
			audit.Record(ctx, tx, ev)
		}
		return nil
	})
}

// pfDeclares reports whether an agent manifest declares providerID.
func pfDeclares(manifest []byte, providerID string) bool {
	for _, r := range RequirementsOf(manifest) {
		if r.ProviderID == providerID {
			return true
		}
	}
	return false
}
