package providers

import (
	"context"
	"errors"

	"github.com/appstrate/appstrate-go/internal/packages"
)

// AgentReadiness answers the provider part of `GET /api/agents/{scope}/{name}/readiness` for packages.Agents
// (it implements packages.ProviderChecker, so the packages service needs no import of this package).
type AgentReadiness struct{ Resolver *Resolver }

// MissingProviders resolves reqs for the caller of the readiness route (the impersonated end-user, else the
// user) and reports the providers that are not ready. q.ConnectionProfileID is the run's explicit profile;
// q.ProviderProfiles are laid over the actor's stored per-agent overrides. An explicit profile the caller
// may not use is a 404 (packages.ErrAppProfileNotFound with the detail "Connection profile not found").
func (a AgentReadiness) MissingProviders(ctx context.Context, c packages.AppCaller, agentID string,
	reqs []packages.ProviderRequirement, q packages.ReadinessQuery) ([]packages.MissingProvider, error) {
	rc := RunContext{OrgID: c.OrgID, AppID: c.AppID, Actor: Actor{UserID: c.UserID}, AgentID: agentID,
		ExplicitProfileID: q.ConnectionProfileID, Requirements: make([]Requirement, 0, len(reqs))}
	if q.EndUserID != "" {
		rc.Actor = Actor{EndUserID: q.EndUserID}
	}
	for _, r := range reqs {
		rc.Requirements = append(rc.Requirements, Requirement{ProviderID: r.ID, Scopes: r.Scopes})
	}
	if len(q.ProviderProfiles) > 0 {
		overrides, err := pfStoredOverrides(ctx, a.Resolver.DB, rc.Actor, agentID)
		if err != nil {
			return nil, err
		}
		for provider, profile := range q.ProviderProfiles {
			overrides[provider] = profile
		}
		rc.ProviderOverrides = overrides
	}
	res, err := a.Resolver.Readiness(ctx, nil, rc)
	if errors.Is(err, ErrProfileNotFound) {
		return nil, &packages.AppPackageError{Err: packages.ErrAppProfileNotFound, Detail: "Connection profile not found"}
	}
	if err != nil {
		return nil, err
	}
	out := make([]packages.MissingProvider, 0, len(res.Missing))
	for _, m := range res.Missing {
		mp := packages.MissingProvider{ProviderID: m.ProviderID, Reason: string(m.Reason), Message: m.Message}
		if m.ProfileID != "" {
			id := m.ProfileID
			mp.ConnectionProfileID = &id
		}
		out = append(out, mp)
	}
	return out, nil
}
