package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// How a run picks a connection (PACKAGES.md §4.7). For every provider the agent declares, highest priority
// first:
//
//  1. app_binding: the application profile of the run has a binding for the provider → the bound member's
//     profile. The application profile of the run is the explicit profile when that is an application
//     profile of the application (a schedule on an app profile), else the agent install's app profile
//     (application_packages.app_profile_id).
//  2. agent_override: the actor's per-agent override for the provider (user_agent_provider_profiles, or the
//     overrides given with the request), when it names a profile the actor may use in this application.
//  3. the actor's default profile, the first of:
//     explicit_profile — the profile named on the run (schedule profile, readiness ?connectionProfileId=)
//     when it is a user or end-user profile; an explicit application profile instead disables this layer
//     ("no user fallback": its bindings only);
//     pinned_profile — the member's pinned default for the application (user_application_profiles);
//     default_profile — the actor's Default profile (created on first need for users).
//
// A connection stored directly on an application profile is therefore reached only when that profile is a
// member's pin or override. Then, per provider, the first failing check is the one reported (readiness
// reason / preflight error code): provider_not_enabled (no enabled credential row of the application),
// provider_not_configured (OAuth provider whose application admin credentials are missing), no_connection
// (no profile resolved, or no connection on it made with this application's credentials —
// code dependency_not_satisfied), needs_reconnection, scope_insufficient (declared scopes not all granted).

// Source says which rule picked a provider's profile.
type Source string

// The resolution rules, in priority order.
const (
	SourceAppBinding      Source = "app_binding"
	SourceAgentOverride   Source = "agent_override"
	SourceExplicitProfile Source = "explicit_profile"
	SourcePinnedProfile   Source = "pinned_profile"
	SourceDefaultProfile  Source = "default_profile"
)

// Wire is the upstream source label stored on runs and shown in provider statuses: app_binding, or
// user_profile for every rule that picks one of the actor's profiles.
func (s Source) Wire() string {
	if s == SourceAppBinding {
		return string(SourceAppBinding)
	}
	return "user_profile"
}

// Reason is why a declared provider cannot be used (GET /api/agents/{scope}/{name}/readiness).
type Reason string

// Readiness reasons, in the order the checks run.
const (
	ReasonProviderNotEnabled    Reason = "provider_not_enabled"
	ReasonProviderNotConfigured Reason = "provider_not_configured"
	ReasonNoConnection          Reason = "no_connection"
	ReasonNeedsReconnection     Reason = "needs_reconnection"
	ReasonScopeInsufficient     Reason = "scope_insufficient"
)

// Code is the problem code a run preflight answers with for this reason (API.md §3.2).
func (r Reason) Code() string {
	if r == ReasonNoConnection {
		return "dependency_not_satisfied"
	}
	return string(r)
}

// ErrUnknownAgent means the agent of a RunContext does not exist.
var ErrUnknownAgent = errors.New("agent not found")

// Requirement is a provider an agent declares with the scopes it needs (manifest dependencies.providers and
// providersConfiguration.<id>.scopes).
type Requirement struct {
	ProviderID string
	Scopes     []string
}

// RunContext is what resolution needs to know about a run (or a readiness check).
type RunContext struct {
	OrgID, AppID string
	// Actor runs the agent; the zero Actor is a run without actor (schedule on an application profile):
	// no overrides, no default profile.
	Actor   Actor
	AgentID string
	// Requirements are the providers to resolve; nil = those of the agent's draft manifest.
	Requirements []Requirement
	// ExplicitProfileID is the profile named on the run ("" = none); it must be one of the actor's
	// profiles or an application profile of AppID, else ErrProfileNotFound.
	ExplicitProfileID string
	// ProviderOverrides replace the actor's stored per-agent overrides when non-nil (providerId → profileId).
	ProviderOverrides map[string]string
}

// Resolved is the profile (and connection, "" when none) a run uses for one provider.
type Resolved struct {
	ProviderID   string
	ProfileID    string
	ConnectionID string
	Source       Source
}

// Missing is a declared provider the run cannot use, with the profile that was searched ("" when none
// resolved).
type Missing struct {
	ProviderID string
	ProfileID  string
	Reason     Reason
	Message    string
}

// ResolveProfile is the owner and name of a connection profile.
type ResolveProfile struct {
	ID, Name                 string
	UserID, EndUserID, AppID string
}

// ResolveProvider is a provider's state in an application.
type ResolveProvider struct {
	Enabled    bool // an enabled application_provider_credentials row exists
	Configured bool // the admin credentials its auth mode requires are present
}

// ResolveConnection is a connection without its credentials.
type ResolveConnection struct {
	ID                string
	NeedsReconnection bool
	ScopesGranted     []string
}

// ResolveStore is what resolution reads. Resolver.Store implements it over the database.
type ResolveStore interface {
	// AgentRequirements returns the providers agentID declares, else ErrUnknownAgent.
	AgentRequirements(ctx context.Context, agentID string) ([]Requirement, error)
	// AgentAppProfile returns the application profile of agentID's install in appID ("" = none).
	AgentAppProfile(ctx context.Context, appID, agentID string) (string, error)
	// Profile returns a profile's owner, else ErrProfileNotFound.
	Profile(ctx context.Context, id string) (ResolveProfile, error)
	// Binding returns the source profile of the binding of providerID in appProfileID ("" = none).
	Binding(ctx context.Context, appProfileID, providerID string) (string, error)
	// AgentOverrides returns the actor's stored overrides for agentID (providerId → profileId).
	AgentOverrides(ctx context.Context, a Actor, agentID string) (map[string]string, error)
	// PinnedProfile returns the profile userID pinned for appID ("" = none).
	PinnedProfile(ctx context.Context, userID, appID string) (string, error)
	// DefaultProfile returns the actor's Default profile, creating a user's on first need.
	DefaultProfile(ctx context.Context, a Actor) (string, error)
	// Provider returns providerID's state in appID.
	Provider(ctx context.Context, appID, providerID string) (ResolveProvider, error)
	// Connection returns the connection of profileID for providerID made with appID's credentials (nil = none).
	Connection(ctx context.Context, profileID, providerID, appID string) (*ResolveConnection, error)
}

// usable reports whether the actor of rc may use profile p in rc's application: its own profile or an
// application profile of the application.
func (rc RunContext) usable(p ResolveProfile) bool {
	switch {
	case p.AppID != "":
		return p.AppID == rc.AppID
	case p.EndUserID != "":
		return p.EndUserID == rc.Actor.EndUserID
	default:
		return p.UserID != "" && p.UserID == rc.Actor.UserID && !rc.Actor.IsEndUser()
	}
}

// Resolve picks a profile and connection per declared provider (rules above). resolved has an entry for
// every provider whose profile was resolved (ConnectionID "" when it holds no connection); missing lists
// every provider that is not ready, in declaration order. A non-nil error is a lookup failure,
// ErrUnknownAgent, or ErrProfileNotFound for an explicit profile the actor may not use.
func Resolve(ctx context.Context, st ResolveStore, rc RunContext) (map[string]Resolved, []Missing, error) {
	reqs := rc.Requirements
	if reqs == nil {
		var err error
		if reqs, err = st.AgentRequirements(ctx, rc.AgentID); err != nil {
			return nil, nil, err
		}
	}
	refs := map[string]ResolveProfile{}
	lookup := func(id string) (ResolveProfile, error) {
		if r, ok := refs[id]; ok {
			return r, nil
		}
		r, err := st.Profile(ctx, id)
		if err == nil {
			refs[id] = r
		}
		return r, err
	}
	hasActor := rc.Actor != (Actor{})

	// The application layer and the actor's default profile.
	var appLayer, userDefault string
	var userSource Source
	noUserLayer := false
	if rc.ExplicitProfileID != "" {
		p, err := lookup(rc.ExplicitProfileID)
		if err != nil {
			return nil, nil, err
		}
		if !rc.usable(p) {
			return nil, nil, ErrProfileNotFound
		}
		if p.AppID != "" {
			appLayer, noUserLayer = p.ID, true
		} else {
			userDefault, userSource = p.ID, SourceExplicitProfile
		}
	}
	if appLayer == "" {
		id, err := st.AgentAppProfile(ctx, rc.AppID, rc.AgentID)
		if err != nil {
			return nil, nil, err
		}
		appLayer = id
	}
	if hasActor && !noUserLayer && userDefault == "" {
		if !rc.Actor.IsEndUser() {
			pin, err := st.PinnedProfile(ctx, rc.Actor.UserID, rc.AppID)
			if err != nil {
				return nil, nil, err
			}
			if pin != "" {
				p, err := lookup(pin)
				if err != nil && !errors.Is(err, ErrProfileNotFound) {
					return nil, nil, err
				}
				if err == nil && rc.usable(p) {
					userDefault, userSource = pin, SourcePinnedProfile
				}
			}
		}
		if userDefault == "" {
			id, err := st.DefaultProfile(ctx, rc.Actor)
			if err != nil {
				return nil, nil, err
			}
			userDefault, userSource = id, SourceDefaultProfile
		}
	}
	overrides := rc.ProviderOverrides
	if overrides == nil && hasActor {
		var err error
		if overrides, err = st.AgentOverrides(ctx, rc.Actor, rc.AgentID); err != nil {
			return nil, nil, err
		}
	}

	resolved := map[string]Resolved{}
	missing := []Missing{}
	for _, req := range reqs {
		r := Resolved{ProviderID: req.ProviderID}
		if appLayer != "" {
			src, err := st.Binding(ctx, appLayer, req.ProviderID)
			if err != nil {
				return nil, nil, err
			}
			if src != "" {
				r.ProfileID, r.Source = src, SourceAppBinding
			}
		}
		if r.ProfileID == "" && overrides[req.ProviderID] != "" {
			p, err := lookup(overrides[req.ProviderID])
			if err != nil && !errors.Is(err, ErrProfileNotFound) {
				return nil, nil, err
			}
			if err == nil && rc.usable(p) {
				r.ProfileID, r.Source = p.ID, SourceAgentOverride
			}
		}
		if r.ProfileID == "" && userDefault != "" {
			r.ProfileID, r.Source = userDefault, userSource
		}
		m, err := pfCheck(ctx, st, rc, req, &r, lookup)
		if err != nil {
			return nil, nil, err
		}
		if r.ProfileID != "" {
			resolved[req.ProviderID] = r
		}
		if m != nil {
			missing = append(missing, *m)
		}
	}
	return resolved, missing, nil
}

// check runs the readiness checks of one provider, filling r.ConnectionID; nil = ready.
func pfCheck(ctx context.Context, st ResolveStore, rc RunContext, req Requirement, r *Resolved,
	lookup func(string) (ResolveProfile, error)) (*Missing, error) {
	m := &Missing{ProviderID: req.ProviderID, ProfileID: r.ProfileID}
	ps, err := st.Provider(ctx, rc.AppID, req.ProviderID)
	if err != nil {
		return nil, err
	}
	if !ps.Enabled {
		m.Reason, m.Message = ReasonProviderNotEnabled, "Provider "+req.ProviderID+" is not enabled for this application"
		return m, nil
	}
	if !ps.Configured {
		m.Reason, m.Message = ReasonProviderNotConfigured, "Provider "+req.ProviderID+
			" is not configured: an administrator must set its OAuth client credentials for this application"
		return m, nil
	}
	if r.ProfileID == "" {
		m.Reason, m.Message = ReasonNoConnection, "No connection profile applies to provider "+req.ProviderID
		return m, nil
	}
	profileName := r.ProfileID
	if p, err := lookup(r.ProfileID); err == nil {
		profileName = p.Name
	} else if !errors.Is(err, ErrProfileNotFound) {
		return nil, err
	}
	conn, err := st.Connection(ctx, r.ProfileID, req.ProviderID, rc.AppID)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		m.Reason, m.Message = ReasonNoConnection, fmt.Sprintf("No connection for provider %s on profile %q: connect an account first",
			req.ProviderID, profileName)
		return m, nil
	}
	r.ConnectionID = conn.ID
	if conn.NeedsReconnection {
		m.Reason, m.Message = ReasonNeedsReconnection, fmt.Sprintf("The connection to %s on profile %q must be reconnected",
			req.ProviderID, profileName)
		return m, nil
	}
	if lacking := pfMissingScopes(req.Scopes, conn.ScopesGranted); len(lacking) > 0 {
		m.Reason, m.Message = ReasonScopeInsufficient, fmt.Sprintf("%s requires additional permissions: %s",
			req.ProviderID, strings.Join(lacking, ", "))
		return m, nil
	}
	return nil, nil
}

// pfMissingScopes returns the scopes of want not in granted, in want's order.
func pfMissingScopes(want, granted []string) []string {
	have := make(map[string]bool, len(granted))
	for _, s := range granted {
		have[s] = true
	}
	var out []string
	for _, s := range want {
		if !have[s] {
			out = append(out, s)
		}
	}
	return out
}

// ReadinessResult is the provider part of an agent's readiness.
type ReadinessResult struct {
	Ready   bool
	Missing []Missing
}

// Readiness reports which declared providers cannot be used (Resolve's missing list).
func Readiness(ctx context.Context, st ResolveStore, rc RunContext) (*ReadinessResult, error) {
	_, missing, err := Resolve(ctx, st, rc)
	if err != nil {
		return nil, err
	}
	return &ReadinessResult{Ready: len(missing) == 0, Missing: missing}, nil
}
