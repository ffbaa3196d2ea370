package providers

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// fakeStore is an in-memory ResolveStore.
type fakeStore struct {
	reqs        []Requirement
	agentApp    string                        // the agent install's app profile
	profiles    map[string]ResolveProfile     // id → owner
	bindings    map[string]map[string]string  // app profile → provider → source profile
	overrides   map[Actor]map[string]string   // actor → provider → profile
	pins        map[string]string             // user → profile (in app "app")
	defaults    map[Actor]string              // actor → Default profile
	providers   map[string]ResolveProvider    // provider → state (absent = enabled and configured)
	connections map[string]*ResolveConnection // profile|provider → connection
}

const (
	appID   = "app"
	agentID = "@acme/agent"
	gmail   = "@appstrate/gmail"
	slack   = "@appstrate/slack"
)

func (f *fakeStore) AgentRequirements(context.Context, string) ([]Requirement, error) {
	if f.reqs == nil {
		return nil, ErrUnknownAgent
	}
	return f.reqs, nil
}

func (f *fakeStore) AgentAppProfile(context.Context, string, string) (string, error) {
	return f.agentApp, nil
}

func (f *fakeStore) Profile(_ context.Context, id string) (ResolveProfile, error) {
	p, ok := f.profiles[id]
	if !ok {
		return ResolveProfile{}, ErrProfileNotFound
	}
	p.ID = id
	if p.Name == "" {
		p.Name = id
	}
	return p, nil
}

func (f *fakeStore) Binding(_ context.Context, appProfile, provider string) (string, error) {
	return f.bindings[appProfile][provider], nil
}

func (f *fakeStore) AgentOverrides(_ context.Context, a Actor, _ string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range f.overrides[a] {
		out[k] = v
	}
	return out, nil
}

func (f *fakeStore) PinnedProfile(_ context.Context, user, _ string) (string, error) {
	return f.pins[user], nil
}

func (f *fakeStore) DefaultProfile(_ context.Context, a Actor) (string, error) {
	return f.defaults[a], nil
}

func (f *fakeStore) Provider(_ context.Context, _, provider string) (ResolveProvider, error) {
	if s, ok := f.providers[provider]; ok {
		return s, nil
	}
	return ResolveProvider{Enabled: true, Configured: true}, nil
}

func (f *fakeStore) Connection(_ context.Context, profile, provider, _ string) (*ResolveConnection, error) {
	return f.connections[profile+"|"+provider], nil
}

var (
	ada   = Actor{UserID: "ada"}
	bob   = Actor{UserID: "bob"}
	carol = Actor{EndUserID: "eu_carol"}
)

// world is a store where every rule of §4.7 has something to offer for gmail, and every profile holds a
// gmail connection named after the profile.
func world() *fakeStore {
	f := &fakeStore{
		reqs:     []Requirement{{ProviderID: gmail, Scopes: []string{}}},
		agentApp: "install-app-profile",
		profiles: map[string]ResolveProfile{
			"install-app-profile":  {AppID: appID},
			"explicit-app-profile": {AppID: appID},
			"other-app-profile":    {AppID: "other-app"},
			"bound":                {UserID: "bob"},
			"explicit-bound":       {UserID: "bob"},
			"override":             {UserID: "ada"},
			"explicit":             {UserID: "ada"},
			"pinned":               {UserID: "ada"},
			"ada-default":          {UserID: "ada"},
			"bob-default":          {UserID: "bob"},
			"carol-default":        {EndUserID: "eu_carol"},
			"carol-other":          {EndUserID: "eu_carol"},
		},
		bindings: map[string]map[string]string{
			"install-app-profile":  {gmail: "bound"},
			"explicit-app-profile": {gmail: "explicit-bound"},
		},
		overrides: map[Actor]map[string]string{ada: {gmail: "override"}},
		pins:      map[string]string{"ada": "pinned"},
		defaults:  map[Actor]string{ada: "ada-default", bob: "bob-default", carol: "carol-default"},
		providers: map[string]ResolveProvider{},
	}
	f.connections = map[string]*ResolveConnection{}
	for id := range f.profiles {
		f.connections[id+"|"+gmail] = &ResolveConnection{ID: "conn-" + id, ScopesGranted: []string{}}
	}
	return f
}

// TestResolveOrder has one row per rule of PACKAGES.md §4.7, each proving it wins over the next one.
func TestResolveOrder(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeStore, rc *RunContext)
		profile string
		source  Source
	}{
		{"app binding of the agent's app profile beats the per-agent override", func(*fakeStore, *RunContext) {},
			"bound", SourceAppBinding},
		{"per-agent override beats the explicit profile", func(f *fakeStore, rc *RunContext) {
			f.agentApp = ""
			rc.ExplicitProfileID = "explicit"
		}, "override", SourceAgentOverride},
		{"explicit profile beats the pinned profile", func(f *fakeStore, rc *RunContext) {
			f.agentApp, f.overrides = "", nil
			rc.ExplicitProfileID = "explicit"
		}, "explicit", SourceExplicitProfile},
		{"pinned profile beats the Default profile", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides = "", nil
		}, "pinned", SourcePinnedProfile},
		{"Default profile when nothing else applies", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides, f.pins = "", nil, nil
		}, "ada-default", SourceDefaultProfile},

		{"an app profile without a binding for the provider falls through", func(f *fakeStore, _ *RunContext) {
			f.bindings = nil
		}, "override", SourceAgentOverride},
		{"an explicit app profile replaces the agent's app profile", func(_ *fakeStore, rc *RunContext) {
			rc.ExplicitProfileID = "explicit-app-profile"
		}, "explicit-bound", SourceAppBinding},
		{"overrides given with the request replace the stored ones", func(f *fakeStore, rc *RunContext) {
			f.agentApp = ""
			rc.ProviderOverrides = map[string]string{gmail: "explicit"}
		}, "explicit", SourceAgentOverride},
		{"empty request overrides disable the stored ones", func(f *fakeStore, rc *RunContext) {
			f.agentApp = ""
			rc.ProviderOverrides = map[string]string{}
		}, "pinned", SourcePinnedProfile},
		{"an override naming an app profile of this application applies", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides = "", map[Actor]map[string]string{ada: {gmail: "explicit-app-profile"}}
		}, "explicit-app-profile", SourceAgentOverride},
		{"an override naming another application's profile is ignored", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides = "", map[Actor]map[string]string{ada: {gmail: "other-app-profile"}}
		}, "pinned", SourcePinnedProfile},
		{"an override naming another user's profile is ignored", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides = "", map[Actor]map[string]string{ada: {gmail: "bob-default"}}
		}, "pinned", SourcePinnedProfile},
		{"an override naming a deleted profile is ignored", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides = "", map[Actor]map[string]string{ada: {gmail: "gone"}}
		}, "pinned", SourcePinnedProfile},
		{"a pinned app profile of this application applies", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides, f.pins = "", nil, map[string]string{"ada": "install-app-profile"}
		}, "install-app-profile", SourcePinnedProfile},
		{"a pin that is not usable falls back to Default", func(f *fakeStore, _ *RunContext) {
			f.agentApp, f.overrides, f.pins = "", nil, map[string]string{"ada": "bob-default"}
		}, "ada-default", SourceDefaultProfile},
		{"an end-user uses its own overrides and Default, never a pin", func(f *fakeStore, rc *RunContext) {
			f.agentApp, f.pins = "", map[string]string{"eu_carol": "pinned"}
			rc.Actor = carol
		}, "carol-default", SourceDefaultProfile},
		{"an end-user's override", func(f *fakeStore, rc *RunContext) {
			f.agentApp, f.overrides = "", map[Actor]map[string]string{carol: {gmail: "carol-other"}}
			rc.Actor = carol
		}, "carol-other", SourceAgentOverride},
		{"the app binding applies to end-users too", func(_ *fakeStore, rc *RunContext) {
			rc.Actor = carol
		}, "bound", SourceAppBinding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := world()
			rc := RunContext{OrgID: "org", AppID: appID, Actor: ada, AgentID: agentID}
			tc.setup(f, &rc)
			resolved, missing, err := Resolve(context.Background(), f, rc)
			if err != nil {
				t.Fatal(err)
			}
			want := Resolved{ProviderID: gmail, ProfileID: tc.profile, ConnectionID: "conn-" + tc.profile, Source: tc.source}
			if got := resolved[gmail]; got != want || len(missing) != 0 {
				t.Fatalf("got %+v missing %+v, want %+v", got, missing, want)
			}
		})
	}
}

func TestResolveWithoutUserLayer(t *testing.T) {
	ctx := context.Background()
	t.Run("explicit app profile without binding: no user fallback", func(t *testing.T) {
		f := world()
		f.bindings = nil
		f.overrides = nil
		resolved, missing, err := Resolve(ctx, f, RunContext{AppID: appID, Actor: ada, AgentID: agentID,
			ExplicitProfileID: "explicit-app-profile"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resolved) != 0 || len(missing) != 1 || missing[0].Reason != ReasonNoConnection || missing[0].ProfileID != "" {
			t.Fatalf("resolved %+v missing %+v", resolved, missing)
		}
	})
	t.Run("no actor (schedule on an app profile): bindings only", func(t *testing.T) {
		f := world()
		resolved, missing, err := Resolve(ctx, f, RunContext{AppID: appID, AgentID: agentID, ExplicitProfileID: "explicit-app-profile"})
		if err != nil || len(missing) != 0 || resolved[gmail].ProfileID != "explicit-bound" {
			t.Fatalf("resolved %+v missing %+v err %v", resolved, missing, err)
		}
		f.agentApp = ""
		resolved, missing, err = Resolve(ctx, f, RunContext{AppID: appID, AgentID: agentID})
		if err != nil || len(resolved) != 0 || len(missing) != 1 || missing[0].Reason != ReasonNoConnection {
			t.Fatalf("resolved %+v missing %+v err %v", resolved, missing, err)
		}
	})
}

func TestResolveExplicitProfileMustBeUsable(t *testing.T) {
	for _, id := range []string{"bob-default", "other-app-profile", "carol-default", "nope"} {
		t.Run(id, func(t *testing.T) {
			_, _, err := Resolve(context.Background(), world(), RunContext{AppID: appID, Actor: ada, AgentID: agentID, ExplicitProfileID: id})
			if !errors.Is(err, ErrProfileNotFound) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	_, _, err := Resolve(context.Background(), world(), RunContext{AppID: appID, Actor: carol, AgentID: agentID, ExplicitProfileID: "ada-default"})
	if !errors.Is(err, ErrProfileNotFound) {
		t.Fatalf("end-user using a user's profile: err = %v", err)
	}
}

func TestResolveUnknownAgent(t *testing.T) {
	f := world()
	f.reqs = nil
	if _, _, err := Resolve(context.Background(), f, RunContext{AppID: appID, Actor: ada, AgentID: agentID}); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("err = %v", err)
	}
}

// TestReadinessReasons has one row per reason, in the order the checks run: each row sets up the failure
// of its check and of every later one, proving the earlier check is the one reported.
func TestReadinessReasons(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeStore)
		reason  Reason
		profile string
		message string
	}{
		{"provider not enabled", func(f *fakeStore) {
			f.providers[gmail] = ResolveProvider{Enabled: false, Configured: false}
			f.connections = nil
		}, ReasonProviderNotEnabled, "ada-default", "Provider @appstrate/gmail is not enabled for this application"},
		{"provider not configured", func(f *fakeStore) {
			f.providers[gmail] = ResolveProvider{Enabled: true}
			f.connections = nil
		}, ReasonProviderNotConfigured, "ada-default",
			"Provider @appstrate/gmail is not configured: an administrator must set its OAuth client credentials for this application"},
		{"no profile resolved", func(f *fakeStore) {
			f.defaults = nil
		}, ReasonNoConnection, "", "No connection profile applies to provider @appstrate/gmail"},
		{"no connection on the profile", func(f *fakeStore) {
			f.connections = nil
		}, ReasonNoConnection, "ada-default", `No connection for provider @appstrate/gmail on profile "Ada's": connect an account first`},
		{"needs reconnection", func(f *fakeStore) {
			f.connections["ada-default|"+gmail] = &ResolveConnection{ID: "c", NeedsReconnection: true}
			f.reqs[0].Scopes = []string{"mail.send"}
		}, ReasonNeedsReconnection, "ada-default", `The connection to @appstrate/gmail on profile "Ada's" must be reconnected`},
		{"scope insufficient", func(f *fakeStore) {
			f.connections["ada-default|"+gmail] = &ResolveConnection{ID: "c", ScopesGranted: []string{"mail.read"}}
			f.reqs[0].Scopes = []string{"mail.read", "mail.send", "mail.compose"}
		}, ReasonScopeInsufficient, "ada-default", "@appstrate/gmail requires additional permissions: mail.send, mail.compose"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := world()
			f.agentApp, f.overrides, f.pins = "", nil, nil
			f.profiles["ada-default"] = ResolveProfile{UserID: "ada", Name: "Ada's"}
			tc.setup(f)
			res, err := Readiness(context.Background(), f, RunContext{AppID: appID, Actor: ada, AgentID: agentID})
			if err != nil {
				t.Fatal(err)
			}
			want := []Missing{{ProviderID: gmail, ProfileID: tc.profile, Reason: tc.reason, Message: tc.message}}
			if res.Ready || !reflect.DeepEqual(res.Missing, want) {
				t.Fatalf("got %+v\nwant %+v", res, want)
			}
		})
	}
}

func TestReadinessReadyAndCodes(t *testing.T) {
	f := world()
	f.reqs = []Requirement{{ProviderID: gmail, Scopes: []string{"a"}}, {ProviderID: slack}}
	f.connections["bound|"+gmail].ScopesGranted = []string{"b", "a"}
	f.connections["pinned|"+slack] = &ResolveConnection{ID: "s"}
	res, err := Readiness(context.Background(), f, RunContext{AppID: appID, Actor: ada, AgentID: agentID})
	if err != nil || !res.Ready || len(res.Missing) != 0 {
		t.Fatalf("res %+v err %v", res, err)
	}
	codes := map[Reason]string{ReasonProviderNotEnabled: "provider_not_enabled", ReasonProviderNotConfigured: "provider_not_configured",
		ReasonNoConnection: "dependency_not_satisfied", ReasonNeedsReconnection: "needs_reconnection", ReasonScopeInsufficient: "scope_insufficient"}
	for r, code := range codes {
		if r.Code() != code {
			t.Errorf("%s.Code() = %s", r, r.Code())
		}
	}
	if SourceAppBinding.Wire() != "app_binding" || SourceAgentOverride.Wire() != "user_profile" || SourceDefaultProfile.Wire() != "user_profile" {
		t.Error("wire sources")
	}
}
